"""The ``budgets``, ``annual_caps`` and ``approvals`` tables' SQL: what stewards set and what
governance decided.

Budgets are zCDP rho per NGO (or ``*``, the period's default) per period.
Annual caps are zCDP rho per NGO (or ``*``, the default) over any four
consecutive quarters. Approvals are events; the latest decision for a period,
dimension and value is the one in force.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

DEFAULT = "*"
"""The ``ngo_id`` of a period's default budget."""


def for_period(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, float]:
    """Budgets set for ``period``: per NGO id, and :data:`DEFAULT` for the period's default."""
    return {
        str(n): float(r)
        for n, r in con.execute(
            "SELECT ngo_id, rho FROM budgets WHERE period = ?", [period]
        ).fetchall()
    }


def set_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(period, NGO) pairs with a budget of their own."""
    return [
        (str(p), str(n))
        for p, n in con.execute(
            "SELECT period, ngo_id FROM budgets WHERE ngo_id <> ? ORDER BY 1, 2", [DEFAULT]
        ).fetchall()
    ]


def upsert(
    con: duckdb.DuckDBPyConnection,
    *,
    period: str,
    ngo_id: str,
    rho: float,
    by: str,
    at: datetime,
    note: str | None,
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO budgets VALUES (?, ?, ?, ?, ?, ?)",
        [period, ngo_id, rho, by, at, note],
    )


# --- rolling-year caps ---------------------------------------------------------------------------


def annual_caps(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Caps set by stewards: per NGO id, and :data:`DEFAULT` for every NGO without its own."""
    return {
        str(n): float(r) for n, r in con.execute("SELECT ngo_id, rho FROM annual_caps").fetchall()
    }


def upsert_annual_cap(
    con: duckdb.DuckDBPyConnection,
    *,
    ngo_id: str,
    rho: float,
    by: str,
    at: datetime,
    note: str | None,
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO annual_caps VALUES (?, ?, ?, ?, ?)", [ngo_id, rho, by, at, note]
    )


# --- governance approvals -----------------------------------------------------------------------


def record_decision(
    con: duckdb.DuckDBPyConnection,
    *,
    dimension: str,
    value: str,
    period: str,
    action: str,
    by: str,
    note: str,
    at: datetime,
) -> None:
    row = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM approvals").fetchone()
    seq = int(row[0]) if row else 1
    con.execute(
        "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, dimension, value, period, action, by, note, at],
    )


_LATEST = "row_number() OVER (PARTITION BY period, dimension, value ORDER BY seq DESC) = 1"


def approved(con: duckdb.DuckDBPyConnection, period: str) -> frozenset[tuple[str, str]]:
    """The (dimension, value) pairs whose latest decision for ``period`` is an approval."""
    rows = con.execute(
        f"SELECT dimension, value FROM approvals WHERE period = ? QUALIFY {_LATEST} "
        "AND action = 'approve'",
        [period],
    ).fetchall()
    return frozenset((str(d), str(v)) for d, v in rows)


def latest_decisions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per period and governed value: whether approval is in force, and since when."""
    return (
        con.execute(
            "SELECT period, dimension, value, action = 'approve' AS in_force, decided_at "
            f"FROM approvals QUALIFY {_LATEST}"
        )
        .to_arrow_table()
        .to_pandas()
    )
