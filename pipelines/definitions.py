"""The one place where Outcome Hub's assets, checks, sensors, schedules and resources meet.

Under ``dagster dev`` and the daemon the hub resource finds its hub through
``$OUTCOMES_HOME``; the command line configures it per run (see
:mod:`pipelines.assets.runs`).
"""

import dagster as dg

from pipelines.assets import intake, releases, site
from pipelines.assets.resources import VAULT_TAGS, HubResource
from pipelines.assets.sensors import inbox_sensor

intake_job = dg.define_asset_job(
    "intake",
    selection=dg.AssetSelection.assets(intake.validated_submissions, intake.accepted_submissions),
    description="Re-validate submissions from the inbox, stage, check and make them current.",
    tags=VAULT_TAGS,
)
propose_job = dg.define_asset_job(
    "propose",
    selection=dg.AssetSelection.assets(releases.release_proposal),
    description="Propose a period's release for a steward to approve; spends nothing.",
    tags=VAULT_TAGS,
)
release_job = dg.define_asset_job(
    "release",
    selection=dg.AssetSelection.assets(
        releases.period_release, releases.published_release, site.funder_site
    )
    | dg.AssetSelection.checks(releases.release_waits_for_a_steward),
    description=(
        "Release a period with differential privacy, then rebuild the published zone and the site."
    ),
    tags=VAULT_TAGS,
)

defs = dg.Definitions(
    assets=[
        intake.validated_submissions,
        intake.accepted_submissions,
        releases.release_proposal,
        releases.period_release,
        releases.published_release,
        site.funder_site,
    ],
    asset_checks=[
        intake.staged_rows_meet_contract,
        intake.vault_rows_match_manifests,
        releases.release_waits_for_a_steward,
        releases.ledger_equals_published_spends,
        releases.every_published_cell_has_an_interval,
        releases.no_cell_without_its_budget,
    ],
    jobs=[intake_job, propose_job, release_job],
    sensors=[inbox_sensor],
    schedules=[releases.release_schedule],
    resources={"hub": HubResource()},
)
