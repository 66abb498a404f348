"""Invariants of the vault that asset checks and tests assert: each a query, each a message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from pipelines.hub.vault.statuses import HELD
from pipelines.standard.contract import DATASETS, load_contract
from pipelines.validation.sql_rules import reference_holds


def row_count_mismatches(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Current submissions whose vault rows differ from their declared row count."""
    rows = con.execute(
        """
        WITH counted AS (
            SELECT submission_id, count(*) AS n FROM episodes GROUP BY submission_id
            UNION ALL
            SELECT submission_id, count(*) FROM assessments GROUP BY submission_id
        )
        SELECT s.submission_id, s.rows, coalesce(c.n, 0)
        FROM submissions s LEFT JOIN counted c USING (submission_id)
        WHERE list_contains(?, s.status) AND s.rows <> coalesce(c.n, 0)
        """,
        [[str(s) for s in HELD]],
    ).fetchall()
    return {sid: f"manifest {declared}, vault {held}" for sid, declared, held in rows}


@dataclass(frozen=True)
class UnresolvedReferences:
    """Current rows of one NGO-period whose references no longer find their target rows.

    It happens when an NGO resubmits its episodes without episodes that its
    current assessments refer to. Those assessments then join to nothing and
    are left out of every release until the NGO resubmits them.
    """

    ngo_id: str
    period: str
    dataset: str
    rule: str
    to_dataset: str
    rows: int

    def message(self) -> str:
        return (
            f"{self.ngo_id}, {self.period}: {self.rows:,} current {self.dataset} row(s) refer to "
            f"{self.to_dataset} that its current {self.to_dataset} submission no longer holds "
            f"(rule {self.rule}). They are left out of releases until {self.ngo_id} resubmits "
            f"its {self.dataset} for {self.period}."
        )


def unresolved_references(
    con: duckdb.DuckDBPyConnection, scope: Iterable[tuple[str, str]] | None = None
) -> list[UnresolvedReferences]:
    """Every NGO-period (or those in ``scope``, as (ngo_id, period)) with current rows whose
    cross-file reference does not resolve among the current rows of the target dataset."""
    where = ""
    if scope is not None:
        pairs = pd.DataFrame(sorted(set(scope)), columns=["ngo_id", "period"], dtype="str")
        if pairs.empty:
            return []
        con.register("_reference_scope", pairs)
        where = "SEMI JOIN _reference_scope USING (ngo_id, period)"
    found = []
    try:
        for dataset in DATASETS:
            for rel in load_contract(dataset).relationships:
                rows = con.execute(
                    f"SELECT r.ngo_id, r.period, count(*) "
                    f"FROM (SELECT * FROM current_{dataset} {where}) r "
                    f"ANTI JOIN current_{rel.to_dataset} k ON {reference_holds(rel)} "
                    "GROUP BY ALL ORDER BY ALL"
                ).fetchall()
                found += [
                    UnresolvedReferences(ngo, period, dataset, rel.id, rel.to_dataset, int(n))
                    for ngo, period, n in rows
                ]
    finally:
        if scope is not None:
            con.unregister("_reference_scope")
    return found
