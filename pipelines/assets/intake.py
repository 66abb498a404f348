"""Intake assets: re-validate submissions, stage them, check them, make them current.

Partitioned by inbox batch (see :mod:`pipelines.assets.partitions`); the run's
config lists its submission ids. Batching keeps Dagster's bookkeeping per run,
not per submission, which at two thousand NGOs a quarter would otherwise cost
minutes (see docs/decisions/007). Each submission's own verdict is in the
vault, the audit log and the run's metadata.
"""

import dagster as dg
from pydantic import Field

from pipelines.assets.partitions import batches, register_periods
from pipelines.assets.resources import HubResource
from pipelines.hub.desk.sync import sync_receipts
from pipelines.hub.inbox import load_item, pending_ids
from pipelines.hub.intake import VerdictStatus, promote, staged_violations, validate_and_stage
from pipelines.hub.intake.quarantine import refuse_strays, seal_legacy_quarantine
from pipelines.hub.vault import submissions
from pipelines.hub.vault.checks import row_count_mismatches


class BatchConfig(dg.Config):
    submissions: list[str] = Field(default_factory=list)
    """The batch's submission ids; empty means every complete submission now in the inbox."""


def _actor(context: dg.AssetExecutionContext) -> str:
    return f"hub intake (run {context.run.run_id[:8]})"


@dg.asset(partitions_def=batches, group_name="intake", kinds={"duckdb", "greatexpectations"})
def validated_submissions(
    context: dg.AssetExecutionContext, hub: HubResource, config: BatchConfig
) -> dg.MaterializeResult[None]:
    """The hub's verdict on each submission of a batch, re-validated against its contract.

    One verdict per submission. Rows that pass are staged in the encrypted
    vault (kept out of every release until promoted); refused submissions are
    kept encrypted in the vault, with a report beside it that names columns,
    rules and row numbers (never a value).
    """
    home = hub.layout()
    with hub.vault().connect() as con:
        strays = refuse_strays(home, con, _actor(context))
        sealed = seal_legacy_quarantine(home, con, _actor(context))
        waiting = set(pending_ids(home))
        items = [load_item(home, s) for s in list(config.submissions) or waiting if s in waiting]
        verdicts = validate_and_stage(home, con, items, actor=_actor(context))
        sync_receipts(home, con, [v.submission_id for v in verdicts])
    if sealed:
        context.log.warning(f"moved {sealed} refused file(s) kept in the clear into the vault")
    for stray in strays:
        context.log.warning(f"refused {stray.described} in the inbox: the hub did not put it there")
    refused = [v for v in verdicts if v.status == VerdictStatus.REFUSED]
    for verdict in refused:
        context.log.warning(
            f"refused {verdict.submission_id}: {verdict.reason}; report in {verdict.report_dir}"
        )
    return dg.MaterializeResult(
        metadata={
            "submissions": len(verdicts),
            "staged": sum(v.status == VerdictStatus.STAGED for v in verdicts),
            "refused": len(refused),
            "duplicates": sum(v.status == VerdictStatus.DUPLICATE for v in verdicts),
            "strays refused": len(strays),
            "rows staged": sum(v.rows for v in verdicts if v.status == VerdictStatus.STAGED),
            "verdicts": dg.MetadataValue.json({v.submission_id: str(v.status) for v in verdicts}),
            "refused submissions": dg.MetadataValue.json(
                {v.submission_id: v.reason for v in refused}
            ),
        }
    )


@dg.asset_check(asset=validated_submissions, blocking=True)
def staged_rows_meet_contract(hub: HubResource) -> dg.AssetCheckResult:
    """Re-checks every staged row with SQL generated from the contracts, independently of
    Great Expectations; nothing is made current while a single rule fails."""
    with hub.vault().connect() as con:
        violations = staged_violations(con)
    return dg.AssetCheckResult(
        passed=not violations,
        metadata={"violations by rule": dg.MetadataValue.json(violations)},
    )


@dg.asset(
    partitions_def=batches, deps=[validated_submissions], group_name="intake", kinds={"duckdb"}
)
def accepted_submissions(
    context: dg.AssetExecutionContext, hub: HubResource, config: BatchConfig
) -> dg.MaterializeResult[None]:
    """The vault's current rows: one accepted submission per NGO, period and dataset.

    A corrected resubmission supersedes the earlier one; both stay in the
    vault's archive. Periods with accepted rows become partitions of the
    release assets.
    """
    home = hub.layout()
    with hub.vault().connect() as con:
        promotion = promote(home, con, list(config.submissions) or None, actor=_actor(context))
        sync_receipts(home, con, [*promotion.made_current, *promotion.superseded])
        current = submissions.current_periods(con)
    for gap in promotion.unresolved:
        context.log.warning(gap.message())
    for sid in promotion.left_in_inbox:
        context.log.warning(f"{sid} is current but its inbox folder could not be removed")
    register_periods(context.instance, current)
    return dg.MaterializeResult(
        metadata={
            "made current": len(promotion.made_current),
            "periods": ", ".join(current),
            "rows left out for unresolved references": dg.MetadataValue.json(
                {f"{g.ngo_id} {g.period} {g.dataset}": g.rows for g in promotion.unresolved}
            ),
        }
    )


@dg.asset_check(asset=accepted_submissions)
def vault_rows_match_manifests(hub: HubResource) -> dg.AssetCheckResult:
    """Every current submission holds exactly as many rows in the vault as its manifest declared."""
    with hub.vault().connect() as con:
        mismatches = row_count_mismatches(con)
    return dg.AssetCheckResult(
        passed=not mismatches, metadata={"mismatches": dg.MetadataValue.json(mismatches)}
    )
