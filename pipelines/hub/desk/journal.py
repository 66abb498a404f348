"""The desk's journal: audit events recorded where the vault is not at hand, then chained.

The service and the register record what they do (an upload received, a
token refused, an NGO registered) in the journal, inside the same SQLite
transaction as the change itself. Whenever the vault is next opened, the
events move into its hash-chained audit log, in the order they happened; each
event's id is remembered in the vault in the same transaction, so a crash
part-way never chains an event twice.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb

from pipelines.db import registered, transaction
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.desk.store import desk_path, opened, writing

IMPORTED_DDL = "CREATE TABLE desk_events (event_id VARCHAR PRIMARY KEY, moved_at TIMESTAMPTZ)"
"""The vault's record of which journal events it has chained (see the vault's migrations)."""


def record(
    con: sqlite3.Connection, actor: str, action: str, subject: str, detail: Mapping[str, Any]
) -> None:
    """Journal one event, inside the caller's desk transaction."""
    audit.Event(actor, action, subject, detail)  # the audit log's own check: scalars only
    con.execute(
        "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)",
        [
            uuid.uuid4().hex,
            datetime.now(UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            subject,
            json.dumps(dict(detail), default=str),
        ],
    )


def move_into_vault(home: Home, vault: duckdb.DuckDBPyConnection) -> int:
    """Chain every journalled event into the vault's audit log, oldest first; return how many.

    Cheap when there is nothing to move; a hub without a desk has nothing to move.
    """
    if not desk_path(home).exists():
        return 0
    with opened(home) as desk:
        rows = desk.execute(
            "SELECT event_id, recorded_at, actor, action, subject, detail FROM journal "
            "ORDER BY recorded_at, event_id"
        ).fetchall()
        if not rows:
            return 0
        ids = [r[0] for r in rows]
        with transaction(vault):
            with registered(vault, _frame(ids)) as wanted:
                done = {
                    str(e)
                    for (e,) in vault.execute(
                        f"SELECT event_id FROM desk_events WHERE event_id IN (SELECT id FROM {wanted})"
                    ).fetchall()
                }
            fresh = [r for r in rows if r[0] not in done]
            audit.record(
                vault,
                [
                    audit.Event(actor, action, subject, {**json.loads(detail), "at": at})
                    for _id, at, actor, action, subject, detail in fresh
                ],
            )
            now = datetime.now(UTC)
            for event_id, *_rest in fresh:
                vault.execute("INSERT INTO desk_events VALUES (?, ?)", [event_id, now])
        with writing(desk):
            desk.executemany("DELETE FROM journal WHERE event_id = ?", [[i] for i in ids])
    return len(fresh)


def _frame(ids: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"id": ids}, dtype="str")
