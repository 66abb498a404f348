"""The inbox sensor: a new submission in the inbox starts an intake run."""

import dagster as dg

from pipelines.assets.intake import SUBMISSIONS, submissions
from pipelines.assets.resources import VAULT_TAGS, HubResource
from pipelines.hub.inbox import pending_ids

MAX_SUBMISSIONS_PER_RUN = 1000


def range_tags(first: str, last: str) -> dict[str, str]:
    """Tags that make one run cover the partitions from ``first`` to ``last``."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
        **VAULT_TAGS,
    }


def batches(keys: list[str], size: int = MAX_SUBMISSIONS_PER_RUN) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


@dg.sensor(
    job_name="intake",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts an intake run for new complete submissions in the hub's inbox.",
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, hub: HubResource
) -> dg.SensorResult | dg.SkipReason:
    """One run per batch of up to a thousand new submissions, each a new partition."""
    known = set(context.instance.get_dynamic_partitions(SUBMISSIONS))
    new = [sid for sid in pending_ids(hub.layout()) if sid not in known]
    if not new:
        return dg.SkipReason("no new submissions in the inbox")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"intake:{b[0]}..{b[-1]}", tags=range_tags(b[0], b[-1]))
            for b in batches(new)
        ],
        dynamic_partitions_requests=[submissions.build_add_request(new)],
    )
