"""The one place where Outcome Hub's assets, checks, sensors, schedules and resources meet."""

import dagster as dg

from pipelines.assets import intake
from pipelines.assets.resources import VAULT_TAGS, HubResource
from pipelines.assets.sensors import inbox_sensor

intake_job = dg.define_asset_job(
    "intake",
    selection=dg.AssetSelection.assets(intake.validated_submissions, intake.accepted_submissions),
    description="Re-validate submissions from the inbox, stage, check and make them current.",
    tags=VAULT_TAGS,
)

defs = dg.Definitions(
    assets=[intake.validated_submissions, intake.accepted_submissions],
    asset_checks=[intake.staged_rows_meet_contract, intake.vault_rows_match_manifests],
    jobs=[intake_job],
    sensors=[inbox_sensor],
    resources={"hub": HubResource()},
)
