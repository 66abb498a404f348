"""Release assets: each period's proposed release, its differentially private release, then the
published zone.

Partitioned by period. Once a period's submission window has closed, the
schedule prepares a *proposed* release (``release_proposal``), which spends
nothing and waits for a steward; the ``release_waits_for_a_steward`` check says
so in the UI. ``outcomes release`` shows the proposal, records the steward's
approval and runs the release job, which spends only under that approval. A
refused release raises its own :class:`~pipelines.hub.release.ReleaseError`,
which the command line receives with its type and message.
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
from pipelines.hub.release import (
    Proposal,
    propose,
    releasable_periods,
    release_period,
    waiting,
)


@dg.asset(
    partitions_def=periods,
    deps=[dg.AssetDep(accepted_submissions, partition_mapping=dg.AllPartitionMapping())],
    group_name="releases",
    kinds={"duckdb"},
)
def release_proposal(
    context: dg.AssetExecutionContext, hub: HubResource
) -> dg.MaterializeResult[None]:
    """The period's proposed release, waiting for a steward: which submissions it would use, what
    it would spend per NGO (quarter and rolling year), the expected accuracy and what is missing.
    One row per proposal in the vault; spends nothing. Approve it with `outcomes release`."""
    with hub.vault().connect() as con:
        made = propose(con, hub.plan(), context.partition_key, by="release schedule")
    if not isinstance(made, Proposal):
        return dg.MaterializeResult(
            metadata={"status": f"nothing to propose: released as {made.release_id}"}
        )
    asks = [s.asks for s in made.spends]
    years = [s.year_after for s in made.spends]
    missing = made.missing
    return dg.MaterializeResult(
        metadata={
            "proposal": made.proposal_id,
            "status": f"{made.status}: approve with outcomes release --period {made.period}",
            "digest": made.digest,
            "release": f"{made.release_id} ({made.kind})",
            "submissions": len(made.inputs),
            "NGOs charged": len(made.spends),
            "largest rho asked of an NGO (quarter)": max(asks, default=0.0),
            "largest rolling-year rho of an NGO after it": max(years, default=0.0),
            "registered, not submitted": len(missing.not_submitted or ()),
            "in the previous quarter, not this one": len(missing.not_again),
            "unresolved references": len(missing.unresolved),
        }
    )


@dg.asset_check(asset=release_proposal)
def release_waits_for_a_steward(hub: HubResource) -> dg.AssetCheckResult:
    """Warns while any proposed release waits for a steward's approval: nothing is spent until
    one approves it with `outcomes release --period P`."""
    with hub.vault().connect() as con:
        found = waiting(con)
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(
            f"{p.proposal_id} ({p.period}) waits: outcomes release --period {p.period}"
            for p in found
        )
        or "no proposal waits",
        metadata={"waiting": dg.MetadataValue.json([p.proposal_id for p in found])},
    )


class ReleaseConfig(dg.Config):
    supersede: bool = False
    """Release again with the current plan, spending budget again (the ledger shows both)."""
    requested_by: str = "release schedule"


@dg.asset(
    partitions_def=periods,
    deps=[
        dg.AssetDep(accepted_submissions, partition_mapping=dg.AllPartitionMapping()),
        release_proposal,
    ],
    group_name="releases",
    kinds={"opendp", "duckdb"},
)
def period_release(
    context: dg.AssetExecutionContext, hub: HubResource, config: ReleaseConfig
) -> dg.MaterializeResult[None]:
    """The period's differentially private release, kept in the steward zone with its ledger.

    One noisy vector per measure (pooled, and per NGO for NGO measures), each
    with the budget it spent; computed once, and only under a steward's
    approval of its proposal. Running again returns the stored release and
    spends nothing.
    """
    plan, plan_text = hub.plan_with_text()
    with hub.vault().connect() as con:
        outcome = release_period(
            con,
            plan,
            plan_text,
            context.partition_key,
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
    job_name="propose",
    cron_schedule="0 6 * * *",
    execution_timezone="Pacific/Auckland",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Each morning, proposes a release of every period whose submission window has closed; "
        "nothing is spent until a steward approves it with `outcomes release`."
    ),
)
def release_schedule(
    context: dg.ScheduleEvaluationContext, hub: HubResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """One proposal run per period due: its window has closed and it has no release, or the
    governance group has approved cells its release was waiting for. Proposed afresh each day
    until a steward approves (an unchanged proposal is kept, not repeated)."""
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
        dg.RunRequest(run_key=f"propose:{p}:{today}", partition_key=p, tags=VAULT_TAGS) for p in due
    ]
