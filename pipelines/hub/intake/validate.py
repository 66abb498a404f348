"""Validating a chunk at the hub: the contract's rules, the references and the identifier scan.

The same Great Expectations suite the NGO ran, generated from the same
contract, runs again on what arrived; references are checked in SQL against
the rows that will be current; the direct-identifier scan runs on the
submitted columns only.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipelines.hub.inbox import InboxItem
from pipelines.hub.intake.read import payloads
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus
from pipelines.hub.vault import rows
from pipelines.standard.contract import Contract
from pipelines.standard.periods import Period
from pipelines.standard.rules import rule_by_id
from pipelines.validation.findings import ROW, SUBMISSION, Finding
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.prepare import Context, prepare
from pipelines.validation.sql_rules import reference_holds
from pipelines.validation.validate import findings_from, run_suite


def _relationship_flags(
    con: duckdb.DuckDBPyConnection, contract: Contract, frame: pd.DataFrame, items: list[InboxItem]
) -> dict[str, np.ndarray]:
    """Does each row's reference exist in the rows that will be current? Computed in SQL;
    only the (rare) rows that fail come back to Python."""
    flags: dict[str, np.ndarray] = {}
    relation, params = payloads(items)
    position = pd.Series(
        np.arange(len(frame)),
        index=pd.MultiIndex.from_arrays([frame[SUBMISSION].to_numpy(), frame[ROW].to_numpy()]),
    )
    for rel in contract.relationships:
        orphans = con.execute(
            f"SELECT r.submission_id, r.source_row FROM {relation} r "
            f"ANTI JOIN {rows.after_promotion(rel.to_dataset)} k ON {reference_holds(rel)}",
            params,
        ).fetchall()
        mask = np.ones(len(frame), dtype=bool)
        if orphans:
            mask[position.loc[orphans].to_numpy()] = False
        flags[rel.id] = mask
    return flags


def validate_chunk(
    con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem], frame: pd.DataFrame
) -> list[Verdict]:
    """One verdict per submission of the chunk: staged, or refused with its findings."""
    # The scan sees the submitted columns only, not the typed shadows added for validation.
    identifiers = find_direct_identifiers(
        frame[[SUBMISSION, ROW, *contract.column_names]], contract
    )
    flags = _relationship_flags(con, contract, frame, items)
    contexts = {
        i.submission_id: Context(Period.parse(i.period), i.submitted_on, i.submission_id)
        for i in items
    }
    prepared = prepare(frame, contract, contexts, flags, copy=False)
    del frame
    present = frozenset(contract.column_names)
    result = run_suite(prepared, contract, present, batch=True, sanitised=True)
    findings = findings_from(result, contract, [i.submission_id for i in items], sanitised=True)
    del prepared, result
    has_rows = rule_by_id(contract)["file.has_rows"]
    verdicts = []
    for item in items:
        own = [f for f in findings if f.submission == item.submission_id and f.rule != has_rows.id]
        if item.rows == 0:
            own.insert(
                0, Finding(has_rows.id, has_rows.kind, (), has_rows.description, has_rows.fix, 0)
            )
        own_ids = tuple(f for f in identifiers if f.submission == item.submission_id)
        status = VerdictStatus.STAGED if not own and not own_ids else VerdictStatus.REFUSED
        verdicts.append(Verdict.of(item, status, tuple(own), own_ids))
    return verdicts
