"""The inbox sensor: new submissions in the inbox start an intake run, as one batch."""

import dagster as dg

from pipelines.assets.partitions import batches, batches_of
from pipelines.assets.resources import VAULT_TAGS, HubResource
from pipelines.hub.inbox import pending


def _mark(cursor: str | None) -> tuple[int, str]:
    if not cursor:
        return (0, "")
    mark, _, name = cursor.partition("|")
    return (int(mark), name)


@dg.sensor(
    job_name="intake",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts an intake run for the submissions that arrived in the hub's inbox since it last looked.",
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, hub: HubResource
) -> dg.SensorResult | dg.SkipReason:
    """One run (one batch partition) per tick with new submissions, up to 5,000 per run.

    The cursor is the arrival mark of the newest submission already batched. A
    batch whose run fails stays in the inbox: re-execute the run, or take the
    inbox in with `outcomes intake`.
    """
    after = _mark(context.cursor)
    new = [(mark, sid) for mark, sid in pending(hub.layout()) if (mark, sid) > after]
    if not new:
        return dg.SkipReason("no new submissions in the inbox")
    found = batches_of([sid for _, sid in new])
    last_mark, last_id = new[-1]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=b.key, partition_key=b.key, run_config=b.run_config, tags=VAULT_TAGS
            )
            for b in found
        ],
        dynamic_partitions_requests=[batches.build_add_request([b.key for b in found])],
        cursor=f"{last_mark}|{last_id}",
    )
