"""Intake assets: re-validate each submission, stage it, check it, make it current.

Partitioned by submission (dynamic partitions); one run takes a range of
submissions so that two thousand of them do not pay two thousand run start-ups.
"""

import dagster as dg

from pipelines.assets.resources import HubResource
from pipelines.hub.inbox import load_item
from pipelines.hub.intake import promote, staged_violations, validate_and_stage
from pipelines.hub.vault_checks import row_count_mismatches
from pipelines.ngo.handover import MANIFEST

SUBMISSIONS = "submissions"
PERIODS = "periods"
submissions = dg.DynamicPartitionsDefinition(name=SUBMISSIONS)
periods = dg.DynamicPartitionsDefinition(name=PERIODS)


def _actor(context: dg.AssetExecutionContext) -> str:
    return f"hub intake (run {context.run_id[:8]})"


@dg.asset(
    partitions_def=submissions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="intake",
    kinds={"duckdb", "greatexpectations"},
)
def validated_submissions(
    context: dg.AssetExecutionContext, hub: HubResource
) -> dg.MaterializeResult:
    """The hub's verdict on each submission, re-validated against its contract.

    One verdict per submission (the partition). Rows that pass are staged in
    the encrypted vault; refused submissions move to quarantine with a report
    that names columns, rules and row numbers.
    """
    home = hub.layout()
    items = [
        load_item(home, sid)
        for sid in context.partition_keys
        if (home.inbox / sid / MANIFEST).is_file()
    ]
    with hub.vault().connect() as con:
        verdicts = validate_and_stage(home, con, items, actor=_actor(context))
    refused = [v for v in verdicts if v.status == "refused"]
    for verdict in refused:
        context.log.warning(
            f"refused {verdict.submission_id}: {verdict.reason}; report in {verdict.report_dir}"
        )
    return dg.MaterializeResult(
        metadata={
            "submissions": len(verdicts),
            "staged": sum(v.status == "staged" for v in verdicts),
            "refused": len(refused),
            "duplicates": sum(v.status == "duplicate" for v in verdicts),
            "rows staged": sum(v.rows for v in verdicts if v.status == "staged"),
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
    partitions_def=submissions,
    deps=[validated_submissions],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="intake",
    kinds={"duckdb"},
)
def accepted_submissions(
    context: dg.AssetExecutionContext, hub: HubResource
) -> dg.MaterializeResult:
    """The vault's current rows: one accepted submission per NGO, period and dataset.

    A corrected resubmission supersedes the earlier one; both stay in the
    vault's archive. Periods with accepted rows become partitions of the
    release assets.
    """
    home = hub.layout()
    with hub.vault().connect() as con:
        promoted = promote(home, con, context.partition_keys, actor=_actor(context))
        new_periods = sorted(
            {
                p
                for (p,) in con.execute(
                    "SELECT DISTINCT period FROM submissions WHERE status = 'accepted'"
                ).fetchall()
            }
        )
    known = set(context.instance.get_dynamic_partitions(PERIODS))
    missing = [p for p in new_periods if p not in known]
    if missing:
        context.instance.add_dynamic_partitions(PERIODS, missing)
    return dg.MaterializeResult(
        metadata={"made current": len(promoted), "periods": ", ".join(new_periods)}
    )


@dg.asset_check(asset=accepted_submissions)
def vault_rows_match_manifests(hub: HubResource) -> dg.AssetCheckResult:
    """Every current submission holds exactly as many rows in the vault as its manifest declared."""
    with hub.vault().connect() as con:
        mismatches = row_count_mismatches(con)
    return dg.AssetCheckResult(
        passed=not mismatches, metadata={"mismatches": dg.MetadataValue.json(mismatches)}
    )
