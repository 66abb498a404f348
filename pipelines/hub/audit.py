"""The audit log: append-only, hash-chained, in the vault.

Every submission, acceptance, refusal, supersession, budget change, approval,
release and purge is recorded with who, what, when and the file's sha256.
Each entry's hash covers the previous entry's hash, so removing or editing an
entry breaks the chain and ``outcomes audit --verify`` says where. Recomputing
every later hash would hide an edit from the chain alone, so its head is signed
at each publication and as the log grows (:mod:`pipelines.hub.checkpoints`) and
handed to people outside the hub. Entries describe events, never rows: no client
pseudonym and no row value is ever written here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

GENESIS = "0" * 64
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Event:
    """Something that happened, by whom, to what."""

    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any]

    def __post_init__(self) -> None:
        for key, value in self.detail.items():
            items = value if isinstance(value, list | tuple) else [value]
            if not all(isinstance(v, _SCALARS) for v in items):
                raise ValueError(f"audit detail {key!r} must be a scalar or a list of scalars")


def _digest(prev_hash: str, seq: int, at: str, event: Event) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": at,
            "actor": event.actor,
            "action": event.action,
            "subject": event.subject,
            "detail": dict(event.detail),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(con: duckdb.DuckDBPyConnection, events: Iterable[Event]) -> int:
    """Append events in order, inside the caller's transaction; return how many."""
    events = list(events)
    if not events:
        return 0
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    rows: dict[str, list[Any]] = {
        k: [] for k in ("seq", "at", "actor", "action", "subject", "detail", "prev_hash", "hash")
    }
    for event in events:
        seq += 1
        digest = _digest(prev, seq, at, event)
        for key, value in (
            ("seq", seq),
            ("at", at),
            ("actor", event.actor),
            ("action", event.action),
            ("subject", event.subject),
            ("detail", json.dumps(dict(event.detail), default=str)),
            ("prev_hash", prev),
            ("hash", digest),
        ):
            rows[key].append(value)
        prev = digest
    batch = pa.table(rows)  # noqa: F841  (read by DuckDB's replacement scan below)
    con.execute(
        'INSERT INTO audit_log SELECT seq, CAST("at" AS TIMESTAMPTZ), actor, action, subject, '
        "CAST(detail AS JSON), prev_hash, hash FROM batch"
    )
    return len(events)


def entries(
    con: duckdb.DuckDBPyConnection,
    *,
    action: str | None = None,
    limit: int | None = None,
    after: int = 0,
) -> list[dict[str, Any]]:
    """Entries after entry ``after``, oldest first (only the newest ``limit`` when given)."""
    where: list[str] = ["seq > ?"]
    params: list[Any] = [after]
    if action:
        where.append("action = ?")
        params.append(action)
    sql = (
        "SELECT seq, recorded_at, actor, action, subject, detail, prev_hash, hash FROM audit_log "
        f"WHERE {' AND '.join(where)}"
    )
    if limit:
        sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT {int(limit)})"
    rows = con.execute(f"{sql} ORDER BY seq", params).fetchall()
    keys = ("seq", "at", "actor", "action", "subject", "detail", "prev_hash", "hash")
    out = []
    for row in rows:
        entry = dict(zip(keys, row, strict=True))
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else {}
        out.append(entry)
    return out


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The newest entry's (seq, hash): published as an anchor, so a truncated log shows."""
    row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def hash_at(con: duckdb.DuckDBPyConnection, seq: int) -> str | None:
    """The stored hash of entry ``seq``, or None when there is no such entry."""
    row = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [seq]).fetchone()
    return str(row[0]) if row else None


def verify(
    con: duckdb.DuckDBPyConnection,
    anchor: tuple[int, str] | None = None,
    *,
    start: tuple[int, str] | None = None,
) -> int | None:
    """Check the chain; return the first broken entry's seq, or None when intact.

    With an ``anchor`` (a head published earlier), the entry it names must still be there
    with the same hash: removing the newest entries keeps a chain valid, but not anchored.
    With ``start`` (an entry known to be good, such as a signed checkpoint), only the
    entries after it are checked, and it must still be there with its hash.
    """
    prev, expected_seq = GENESIS, 1
    if start is not None:
        if hash_at(con, start[0]) != start[1]:
            return start[0]
        prev, expected_seq = start[1], start[0] + 1
    for entry in entries(con, after=expected_seq - 1):
        at = entry["at"].astimezone(UTC).isoformat(timespec="microseconds")
        event = Event(entry["actor"], entry["action"], entry["subject"], entry["detail"])
        seq = entry["seq"]
        if (
            seq != expected_seq
            or entry["prev_hash"] != prev
            or _digest(prev, seq, at, event) != entry["hash"]
        ):
            return int(seq)
        prev, expected_seq = entry["hash"], seq + 1
    if anchor is not None and hash_at(con, anchor[0]) != anchor[1]:
        return anchor[0]
    return None
