"""The stored releases' SQL: ``releases``, their parts, cells, inputs, allotments and ``spends``.

A release and everything it spent are written together, inside the caller's
transaction (see :mod:`pipelines.hub.release.store`); the ledger's spends are
read from here too, so the budget checks and the publication read the same
rows the release wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from pipelines.db import registered
from pipelines.hub.vault.statuses import ReleaseStatus

WRITTEN_TABLES = ("release_allotments", "release_parts", "spends", "release_cells")
"""Tables a release appends frames to (``releases`` and ``release_inputs`` have their own writers)."""


@dataclass(frozen=True)
class StoredRelease:
    """The current release of a period, as the vault holds it."""

    release_id: str
    version: int
    plan_digest: str
    created_at: datetime


def current(con: duckdb.DuckDBPyConnection, period: str) -> StoredRelease | None:
    row = con.execute(
        "SELECT release_id, version, plan_digest, created_at FROM releases "
        "WHERE period = ? AND status = ?",
        [period, ReleaseStatus.CURRENT],
    ).fetchone()
    return StoredRelease(str(row[0]), int(row[1]), str(row[2]), row[3]) if row else None


def current_by_period(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each released period's current release id."""
    return {
        str(p): str(r)
        for p, r in con.execute(
            "SELECT period, release_id FROM releases WHERE status = ? ORDER BY period",
            [ReleaseStatus.CURRENT],
        ).fetchall()
    }


def next_version(con: duckdb.DuckDBPyConnection, period: str) -> int:
    row = con.execute(
        "SELECT coalesce(max(version), 0) FROM releases WHERE period = ?", [period]
    ).fetchone()
    return int(row[0] if row else 0) + 1


def part_ids(con: duckdb.DuckDBPyConnection, release_id: str) -> frozenset[str]:
    return frozenset(
        str(p)
        for (p,) in con.execute(
            "SELECT part_id FROM release_parts WHERE release_id = ?", [release_id]
        ).fetchall()
    )


def components(con: duckdb.DuckDBPyConnection, release_id: str) -> set[str]:
    """The release components (as stored text) a release has computed."""
    return {
        str(c)
        for (c,) in con.execute(
            "SELECT DISTINCT component FROM release_parts WHERE release_id = ?", [release_id]
        ).fetchall()
    }


def allotments(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, float]:
    """What a release was calibrated on, per NGO."""
    return {
        str(n): float(r)
        for n, r in con.execute(
            "SELECT ngo_id, rho FROM release_allotments WHERE release_id = ?", [release_id]
        ).fetchall()
    }


def contributors(con: duckdb.DuckDBPyConnection, period: str) -> set[str]:
    """NGOs whose submissions the period's current release used."""
    return {
        str(n)
        for (n,) in con.execute(
            "SELECT DISTINCT s.ngo_id FROM release_inputs i JOIN releases r USING (release_id) "
            "JOIN submissions s USING (submission_id) WHERE r.period = ? AND r.status = ?",
            [period, ReleaseStatus.CURRENT],
        ).fetchall()
    }


def unreleased_submissions(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Current submissions of ``period`` that its current release did not use."""
    row = con.execute(
        "SELECT count(*) FROM current_submissions s WHERE s.period = ? AND s.submission_id "
        "NOT IN (SELECT i.submission_id FROM release_inputs i JOIN releases r USING (release_id) "
        "WHERE r.period = ? AND r.status = ?)",
        [period, period, ReleaseStatus.CURRENT],
    ).fetchone()
    return int(row[0]) if row else 0


# --- the ledger's spends ----------------------------------------------------------------------


def spent(
    con: duckdb.DuckDBPyConnection, period: str, *, except_release: str | None = None
) -> dict[str, float]:
    """Each NGO's total spend in ``period`` (leaving out one release's, when given)."""
    return {
        str(n): float(r)
        for n, r in con.execute(
            "SELECT ngo_id, sum(rho) FROM spends WHERE period = ? AND release_id <> ? "
            "GROUP BY ngo_id",
            [period, except_release or ""],
        ).fetchall()
    }


def spent_in(
    con: duckdb.DuckDBPyConnection, periods: Sequence[str]
) -> dict[tuple[str, str], float]:
    """Each (period, NGO)'s total spend in ``periods``: the quarters a rolling year can reach."""
    return {
        (str(p), str(n)): float(r)
        for p, n, r in con.execute(
            "SELECT period, ngo_id, sum(rho) FROM spends WHERE list_contains(?, period) "
            "GROUP BY 1, 2",
            [list(periods)],
        ).fetchall()
    }


def spent_by_ngo_period(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Total spent per period and NGO: period, ngo_id, rho."""
    return (
        con.execute(
            "SELECT period, ngo_id, sum(rho) AS rho FROM spends GROUP BY period, ngo_id "
            "ORDER BY period, ngo_id"
        )
        .to_arrow_table()
        .to_pandas()
    )


def spent_by_release(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Total spent per release and NGO: release_id, period, ngo_id, rho."""
    return (
        con.execute(
            "SELECT release_id, period, ngo_id, sum(rho) AS rho FROM spends GROUP BY 1, 2, 3 "
            "ORDER BY 1, 3"
        )
        .to_arrow_table()
        .to_pandas()
    )


def spent_by_commit(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What each committed release or addendum spent per NGO, oldest first: release_id, period,
    spent_at (one value per commit), ngo_id, rho."""
    return (
        con.execute(
            "SELECT release_id, period, spent_at, ngo_id, sum(rho) AS rho FROM spends "
            "GROUP BY 1, 2, 3, 4 ORDER BY spent_at, release_id, ngo_id"
        )
        .to_arrow_table()
        .to_pandas()
    )


def spend_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(period, NGO) pairs with any spend."""
    return [
        (str(p), str(n))
        for p, n in con.execute(
            "SELECT DISTINCT period, ngo_id FROM spends ORDER BY 1, 2"
        ).fetchall()
    ]


# --- reading stored releases for publication ----------------------------------------------------


def every_release(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored release, oldest first, with its plan text."""
    return (
        con.execute(
            "SELECT release_id, period, version, status, superseded_by, created_at AS released_at, "
            "plan_version, plan_digest, plan_text FROM releases ORDER BY period, version"
        )
        .to_arrow_table()
        .to_pandas()
    )


def cells(con: duckdb.DuckDBPyConnection, release_id: str) -> pd.DataFrame:
    """A release's stored noisy cells."""
    return (
        con.execute("SELECT * FROM release_cells WHERE release_id = ?", [release_id])
        .to_arrow_table()
        .to_pandas()
    )


def part_owners(con: duckdb.DuckDBPyConnection, release_id: str) -> pd.DataFrame:
    """A release's parts: measure, scope and the NGO each per-NGO part is for."""
    return (
        con.execute(
            "SELECT measure, scope, ngo_id FROM release_parts WHERE release_id = ?", [release_id]
        )
        .to_arrow_table()
        .to_pandas()
    )


# --- writing a release (inside the caller's transaction) -------------------------------------


def insert_release(
    con: duckdb.DuckDBPyConnection,
    *,
    release_id: str,
    period: str,
    version: int,
    plan_version: str,
    plan_digest: str,
    plan_text: str,
    created_at: datetime,
    created_by: str,
    supersedes: str | None,
    inputs: Sequence[str],
) -> None:
    """A new current release of its period, made from the submissions ``inputs`` (those its
    approval covered); the one it supersedes (if any) stops being current."""
    if supersedes:
        con.execute(
            "UPDATE releases SET status = ?, superseded_by = ? WHERE release_id = ?",
            [ReleaseStatus.SUPERSEDED, release_id, supersedes],
        )
    con.execute(
        "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [
            release_id,
            period,
            version,
            plan_version,
            plan_digest,
            plan_text,
            created_at,
            created_by,
            ReleaseStatus.CURRENT,
        ],
    )
    con.execute(
        "INSERT INTO release_inputs SELECT ?, unnest(?::VARCHAR[])", [release_id, list(inputs)]
    )


def add_inputs(con: duckdb.DuckDBPyConnection, release_id: str, inputs: Sequence[str]) -> None:
    """Record submissions that an addendum to ``release_id`` used (a late NGO's)."""
    if inputs:
        con.execute(
            "INSERT INTO release_inputs SELECT ?, unnest(?::VARCHAR[])", [release_id, list(inputs)]
        )


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame``'s rows to one of :data:`WRITTEN_TABLES`, by column name."""
    if table not in WRITTEN_TABLES:
        raise ValueError(f"not a release table: {table}")
    if frame.empty:
        return
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    with registered(con, frame) as rows:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {rows}")


def allotment_frame(release_id: str, allotted: Mapping[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"release_id": release_id, "ngo_id": list(allotted), "rho": list(allotted.values())}
    )
