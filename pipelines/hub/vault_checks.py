"""Invariants of the vault that asset checks and tests assert."""

from __future__ import annotations

import duckdb


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
        WHERE s.status IN ('accepted', 'superseded') AND s.rows <> coalesce(c.n, 0)
        """
    ).fetchall()
    return {sid: f"manifest {declared}, vault {held}" for sid, declared, held in rows}
