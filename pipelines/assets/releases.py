"""Release assets: each period's differentially private release, then the published zone.

Partitioned by period. The schedule releases a period once its submission
window has closed; ``outcomes release`` runs the same job. A refused release
raises its own :class:`~pipelines.hub.release.ReleaseError`, which the command
line receives with its type and message.
"""

from datetime import date

import dagster as dg

from pipelines.assets.intake import accepted_submissions
from pipelines.assets.partitions import periods, register_periods
from pipelines.assets.resources import VAULT_TAGS, HubResource
from pipelines.hub.publish import publish
from pipelines.hub.published_checks import (
    cells_without_budget,
    cells_without_interval,
    ledger_differences,
)
from pipelines.hub.release import releasable_periods, release_period


class ReleaseConfig(dg.Config):
    supersede: bool = False
    """Release again with the current plan, spending budget again (the ledger shows both)."""
    requested_by: str = "release schedule"


@dg.asset(
    partitions_def=periods,
    deps=[dg.AssetDep(accepted_submissions, partition_mapping=dg.AllPartitionMapping())],
    group_name="releases",
    kinds={"opendp", "duckdb"},
)
def period_release(
    context: dg.AssetExecutionContext, hub: HubResource, config: ReleaseConfig
) -> dg.MaterializeResult[None]:
    """The period's differentially private release, kept in the steward zone with its ledger.

    One noisy vector per measure (pooled, and per NGO for NGO measures), each
    with the budget it spent; computed once. Running again returns the stored
    release and spends nothing.
    """
    plan, plan_text = hub.plan_with_text()
    with hub.vault().connect() as con:
        outcome = release_period(
            con,
            plan,
            plan_text,
            context.partition_key,
            registered=hub.registered_ngos(),
            supersede=config.supersede,
            actor=config.requested_by,
        )
    return dg.MaterializeResult(
        metadata={
            "release": outcome.release_id,
            "status": outcome.status,
            "parts computed": outcome.parts,
            "NGOs charged": len(outcome.charged),
            "largest rho charged to an NGO": max(outcome.charged.values(), default=0.0),
            "waiting for governance approval": ", ".join(outcome.pending_approval) or "none",
        }
    )


@dg.asset(partitions_def=periods, deps=[period_release], group_name="releases", kinds={"duckdb"})
def published_release(
    context: dg.AssetExecutionContext, hub: HubResource
) -> dg.MaterializeResult[None]:
    """The published zone: every release's cells, one row per cell with its value, 95% interval,
    reliability flag and budget, plus budgets, the plan's accuracy curves and the CSV/Parquet exports."""
    with hub.vault().connect() as con:
        publication = publish(hub.layout(), con, hub.plan())
    return dg.MaterializeResult(
        metadata={
            "releases": publication.releases,
            "current cells": publication.cells,
            "published at": str(publication.path),
        }
    )


@dg.asset_check(asset=published_release)
def ledger_equals_published_spends(hub: HubResource) -> dg.AssetCheckResult:
    """For every NGO and period, the ledger's total spend equals the sum of the published spends."""
    with hub.vault().connect() as con:
        differences = ledger_differences(con, hub.layout().published_db)
    return dg.AssetCheckResult(
        passed=not differences, metadata={"differences": dg.MetadataValue.json(differences)}
    )


@dg.asset_check(asset=published_release)
def every_published_cell_has_an_interval(hub: HubResource) -> dg.AssetCheckResult:
    """Every published value carries its 95% interval; withheld cells carry neither, and a reason."""
    missing = cells_without_interval(hub.layout().published_db)
    return dg.AssetCheckResult(passed=missing == 0, metadata={"cells without interval": missing})


@dg.asset_check(asset=published_release)
def no_cell_without_its_budget(hub: HubResource) -> dg.AssetCheckResult:
    """Every published value states the budget that paid for it."""
    missing = cells_without_budget(hub.layout().published_db)
    return dg.AssetCheckResult(passed=missing == 0, metadata={"cells without budget": missing})


@dg.schedule(
    job_name="release",
    cron_schedule="0 6 * * *",
    execution_timezone="Pacific/Auckland",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Each morning, releases every period whose submission window has closed.",
)
def release_schedule(
    context: dg.ScheduleEvaluationContext, hub: HubResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """One release run per period due: its window has closed and it has no release, or the
    governance group has approved cells its release was waiting for. Retried daily until done."""
    today = (
        context.scheduled_execution_time.date()
        if context.scheduled_execution_time
        else date.today()
    )
    with hub.vault().connect() as con:
        due = releasable_periods(con, hub.plan(), today)
    if not due:
        return dg.SkipReason("no period is due for release")
    register_periods(context.instance, due)
    return [
        dg.RunRequest(run_key=f"release:{p}:{today}", partition_key=p, tags=VAULT_TAGS) for p in due
    ]
