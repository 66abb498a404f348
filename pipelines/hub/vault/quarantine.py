"""The ``quarantined_payloads`` table's SQL: what the hub keeps of a submission it refused.

A refused payload holds pseudonyms and row values (and, from a bad sender, perhaps
raw ids), so it is kept only here, encrypted with the rest of the vault, for
as long as accepted rows of its period are kept: retention deletes both
together. A submission refused for direct identifiers keeps no payload at all.
The steward's report (no values) lives in ``hub/quarantine/<id>/``, outside.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

QUARANTINE_DDL = """
CREATE TABLE quarantined_payloads (
    submission_id VARCHAR PRIMARY KEY,
    ngo_id VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    kept_at TIMESTAMPTZ NOT NULL,
    manifest BLOB,                  -- as received; NULL when it could not be read
    payload BLOB                    -- as received; NULL when refused for direct identifiers
)
"""


def keep(
    con: duckdb.DuckDBPyConnection,
    *,
    submission_id: str,
    ngo_id: str,
    period: str,
    manifest: bytes | None,
    payload: bytes | None,
    at: datetime,
) -> None:
    """Keep a refused submission's files (inside the caller's transaction); a submission
    refused again replaces what was kept of it."""
    con.execute(
        "INSERT OR REPLACE INTO quarantined_payloads VALUES (?, ?, ?, ?, ?, ?)",
        [submission_id, ngo_id, period, at, manifest, payload],
    )


def payload(con: duckdb.DuckDBPyConnection, submission_id: str) -> bytes | None:
    """The refused payload kept for ``submission_id``, for a steward investigating it."""
    row = con.execute(
        "SELECT payload FROM quarantined_payloads WHERE submission_id = ?", [submission_id]
    ).fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


def kept(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Every kept submission id, and whether its payload is kept."""
    return {
        str(sid): bool(has)
        for sid, has in con.execute(
            "SELECT submission_id, payload IS NOT NULL FROM quarantined_payloads"
        ).fetchall()
    }


def count_period(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Refused payloads kept for ``period``."""
    row = con.execute(
        "SELECT count(payload) FROM quarantined_payloads WHERE period = ?", [period]
    ).fetchone()
    return int(row[0]) if row else 0


def delete_period(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Delete what was kept of the period's refused submissions; return how many payloads."""
    count = count_period(con, period)
    con.execute("DELETE FROM quarantined_payloads WHERE period = ?", [period])
    return count
