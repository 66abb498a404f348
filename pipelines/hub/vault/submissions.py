"""The ``submissions`` table's SQL: every submission the hub has decided on, and its status.

This module is the one home of what "current" means for a submission: the
``current_submissions`` view (status accepted) that releases, the row views and
every listing read. Callers pass statuses as :class:`SubmissionStatus`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from pipelines.db import registered
from pipelines.hub.vault.statuses import SubmissionStatus

CURRENT_SUBMISSIONS_VIEW = (
    "CREATE OR REPLACE VIEW current_submissions AS "
    "SELECT * FROM submissions WHERE status = 'accepted'"
)
"""The one definition of a current submission; ``SubmissionStatus.ACCEPTED`` spelled in SQL."""

COLUMNS = (
    "submission_id",
    "ngo_id",
    "period",
    "dataset",
    "contract",
    "sha256",
    "rows",
    "submitted_at",
    "submitted_on",
    "received_at",
    "status",
    "reason",
)
"""The columns a verdict writes (the rest are set by promotion and retention)."""


def statuses_of(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[str, SubmissionStatus]:
    """The recorded status of each of ``ids`` that the vault knows."""
    if not ids:
        return {}
    with registered(con, pd.DataFrame({"id": list(ids)}, dtype="str")) as frame:
        rows = con.execute(
            f"SELECT submission_id, status FROM submissions WHERE submission_id IN "
            f"(SELECT id FROM {frame})"
        ).fetchall()
    return {sid: SubmissionStatus(status) for sid, status in rows}


def record(con: duckdb.DuckDBPyConnection, verdicts: pd.DataFrame) -> None:
    """Write (or rewrite) one row per verdict; ``verdicts`` has :data:`COLUMNS`, times as text."""
    with registered(con, verdicts) as frame:
        con.execute(
            f"DELETE FROM submissions WHERE submission_id IN (SELECT submission_id FROM {frame})"
        )
        con.execute(
            f"INSERT INTO submissions ({', '.join(COLUMNS)}) SELECT submission_id, ngo_id, period, "
            "dataset, contract, sha256, rows, TRY_CAST(submitted_at AS TIMESTAMPTZ), "
            "TRY_CAST(submitted_on AS DATE), CAST(received_at AS TIMESTAMPTZ), status, reason "
            f"FROM {frame}"
        )


def current_ngos(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple[str, str]]:
    """(dataset, NGO) of every current submission of ``period``."""
    return [
        (str(d), str(n))
        for d, n in con.execute(
            "SELECT dataset, ngo_id FROM current_submissions WHERE period = ? ORDER BY dataset, ngo_id",
            [period],
        ).fetchall()
    ]


def current_ids(con: duckdb.DuckDBPyConnection, period: str) -> tuple[str, ...]:
    """The ids of every current submission of ``period``, sorted: what a release of it reads."""
    return tuple(
        str(s)
        for (s,) in con.execute(
            "SELECT submission_id FROM current_submissions WHERE period = ? ORDER BY 1", [period]
        ).fetchall()
    )


def current_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Periods with at least one current submission, oldest first."""
    return [
        str(p)
        for (p,) in con.execute(
            "SELECT DISTINCT period FROM current_submissions ORDER BY 1"
        ).fetchall()
    ]


def count_current(con: duckdb.DuckDBPyConnection, period: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM current_submissions WHERE period = ?", [period]
    ).fetchone()
    return int(row[0]) if row else 0


def ngo_periods(
    con: duckdb.DuckDBPyConnection, statuses: Iterable[SubmissionStatus]
) -> list[tuple[str, str]]:
    """(period, NGO) pairs with a submission in one of ``statuses``."""
    wanted = [str(s) for s in statuses]
    return [
        (str(p), str(n))
        for p, n in con.execute(
            "SELECT DISTINCT period, ngo_id FROM submissions WHERE list_contains(?, status) ORDER BY 1, 2",
            [wanted],
        ).fetchall()
    ]


def counts_by_period(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per period and dataset: how many submissions are accepted, superseded and refused."""
    return (
        con.execute(
            "SELECT period, dataset, count(*) FILTER (WHERE status = $accepted) AS accepted, "
            "count(*) FILTER (WHERE status = $superseded) AS superseded, "
            "count(*) FILTER (WHERE status = $refused) AS refused "
            "FROM submissions GROUP BY 1, 2 ORDER BY 1, 2",
            {
                "accepted": SubmissionStatus.ACCEPTED,
                "superseded": SubmissionStatus.SUPERSEDED,
                "refused": SubmissionStatus.REFUSED,
            },
        )
        .to_arrow_table()
        .to_pandas()
    )


def listing(
    con: duckdb.DuckDBPyConnection,
    *,
    ids: Sequence[str] | None = None,
    period: str | None = None,
    ngo_id: str | None = None,
) -> list[tuple[Any, ...]]:
    """(submission id, NGO, period, dataset, status, rows, reason), filtered, in a stable order."""
    where, params = ["TRUE"], []
    if period:
        where.append("period = ?")
        params.append(period)
    if ngo_id:
        where.append("ngo_id = ?")
        params.append(ngo_id)
    frame = pd.DataFrame({"id": list(ids or [])}, dtype="str")
    with registered(con, frame) as chosen:
        if ids is not None:
            where.append(f"submission_id IN (SELECT id FROM {chosen})")
        return con.execute(
            "SELECT submission_id, ngo_id, period, dataset, status, rows, reason FROM submissions "
            f"WHERE {' AND '.join(where)} ORDER BY period, ngo_id, dataset, received_at",
            params,
        ).fetchall()


def ids_in_period(con: duckdb.DuckDBPyConnection, period: str) -> list[str]:
    return [
        str(s)
        for (s,) in con.execute(
            "SELECT submission_id FROM submissions WHERE period = ?", [period]
        ).fetchall()
    ]


_ROWS_HELD = (SubmissionStatus.ACCEPTED, SubmissionStatus.SUPERSEDED, SubmissionStatus.STAGED)
"""Submissions whose rows are in the vault (purging deletes them)."""


def count_held(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Submissions of ``period`` whose rows the vault holds."""
    row = con.execute(
        "SELECT count(*) FROM submissions WHERE period = ? AND list_contains(?, status)",
        [period, [str(h) for h in _ROWS_HELD]],
    ).fetchone()
    return int(row[0]) if row else 0


def mark_purged(con: duckdb.DuckDBPyConnection, period: str, now: datetime) -> list[str]:
    """Mark every submission of ``period`` whose rows the vault held as purged; return their ids."""
    held = list(_ROWS_HELD)
    return [
        str(s)
        for (s,) in con.execute(
            "UPDATE submissions SET status = ?, decided_at = ? WHERE period = ? "
            "AND list_contains(?, status) RETURNING submission_id",
            [SubmissionStatus.PURGED, now, period, [str(h) for h in held]],
        ).fetchall()
    ]


# --- promotion ---------------------------------------------------------------------------------


def plan_promotion(
    con: duckdb.DuckDBPyConnection, ids: Sequence[str] | None
) -> list[tuple[str, str, str, str, str, str | None]]:
    """What promoting the staged submissions (all, or ``ids``) would do.

    One row per (winner, loser): the winner is the staged submission of its NGO,
    period and dataset that the hub received last (by the hub's own clock, never a
    time the sender wrote); losers are the other accepted or staged submissions it
    replaces (None when it replaces nothing). Rows are (winner, NGO, period,
    dataset, sha256, loser). The result is kept in the temp table ``_promotion``
    for :func:`apply_promotion`, inside the caller's transaction.
    """
    scope = pd.DataFrame({"id": sorted(ids) if ids is not None else []}, dtype="str")
    with registered(con, scope) as chosen:
        where = f"AND submission_id IN (SELECT id FROM {chosen})" if ids is not None else ""
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _promotion AS
            WITH staged AS (
                SELECT submission_id, ngo_id, period, dataset, sha256,
                       row_number() OVER (PARTITION BY ngo_id, period, dataset
                                          ORDER BY received_at DESC, submission_id DESC) AS rank
                FROM submissions WHERE status = $staged {where}
            )
            SELECT w.submission_id AS winner, w.ngo_id, w.period, w.dataset, w.sha256,
                   s.submission_id AS loser
            FROM staged w
            LEFT JOIN submissions s ON s.ngo_id = w.ngo_id AND s.period = w.period
                 AND s.dataset = w.dataset AND s.submission_id <> w.submission_id
                 AND s.status IN ($accepted, $staged)
            WHERE w.rank = 1
            """,
            {"staged": SubmissionStatus.STAGED, "accepted": SubmissionStatus.ACCEPTED},
        )
    plan = [
        (str(w), str(n), str(p), str(d), str(h), None if lo is None else str(lo))
        for w, n, p, d, h, lo in con.execute(
            "SELECT winner, ngo_id, period, dataset, sha256, loser FROM _promotion ORDER BY ALL"
        ).fetchall()
    ]
    if not plan:
        con.execute("DROP TABLE _promotion")
    return plan


def apply_promotion(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Carry out :func:`plan_promotion`'s plan: losers superseded, winners accepted."""
    con.execute(
        "UPDATE submissions SET status = ?, superseded_by = p.winner, decided_at = ? "
        "FROM _promotion p WHERE submissions.submission_id = p.loser",
        [SubmissionStatus.SUPERSEDED, now],
    )
    con.execute(
        "UPDATE submissions SET status = ?, decided_at = ? "
        "WHERE submission_id IN (SELECT winner FROM _promotion)",
        [SubmissionStatus.ACCEPTED, now],
    )
    con.execute("DROP TABLE _promotion")
