"""The desk's SQLite file: opening it, its schema, and one transaction helper.

Every connection uses write-ahead logging and waits (up to ``BUSY_TIMEOUT_S``)
for another process's short write instead of failing; a write takes the lock
up front (:func:`writing`) so that two writers never deadlock on an upgrade.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pipelines.db import transaction
from pipelines.home import Home, private_dir

BUSY_TIMEOUT_S = 30.0

_SCHEMA = [
    # 1: the register, receipts and the journal
    """
    CREATE TABLE ngos (
        ngo_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        programmes TEXT NOT NULL,      -- JSON list of contract programme values
        regions TEXT NOT NULL,         -- JSON list of contract region values
        token_hash TEXT UNIQUE,        -- sha256 of the API token, NULL once revoked
        token_issued_at TEXT,
        status TEXT NOT NULL,          -- active | revoked
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE receipts (
        submission_id TEXT PRIMARY KEY,
        ngo_id TEXT NOT NULL,
        period TEXT NOT NULL,
        dataset TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        status TEXT NOT NULL,          -- received | accepted | refused | superseded | purged
        reason TEXT,
        report TEXT,                   -- the hub's report as JSON: rules, counts, row numbers
        updated_at TEXT NOT NULL
    );
    CREATE INDEX receipts_by_ngo ON receipts (ngo_id, period);
    CREATE TABLE journal (
        event_id TEXT PRIMARY KEY,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL           -- JSON of scalars: never a token, never a row value
    );
    """,
    # 2: hashes of tokens that were revoked or replaced, so that using one is reported as that
    """
    CREATE TABLE retired_tokens (
        token_hash TEXT PRIMARY KEY,   -- sha256 of a token that no longer works
        ngo_id TEXT NOT NULL,
        retired_at TEXT NOT NULL,
        why TEXT NOT NULL              -- revoked | replaced
    );
    """,
]
"""Each version runs once, in order, in its own transaction; append, never edit. A version's
statements are split on semicolons, so no comment holds one (a test checks)."""


def desk_path(home: Home) -> Path:
    return home.desk


def connect(home: Home) -> sqlite3.Connection:
    """A connection to the desk of ``home`` (created, owner-only, on first use), schema ensured."""
    path = desk_path(home)
    private_dir(path.parent)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    path.chmod(0o600)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")  # a receipt is never given for a row not on disk
    con.execute("PRAGMA foreign_keys = ON")
    _migrate(con)
    return con


def writing(con: sqlite3.Connection) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """One write: the shared transaction helper, taking SQLite's write lock up front."""
    return transaction(con, immediate=True)


@contextlib.contextmanager
def opened(home: Home) -> Iterator[sqlite3.Connection]:
    con = connect(home)
    try:
        yield con
    finally:
        con.close()


def _migrate(con: sqlite3.Connection) -> None:
    version = int(con.execute("PRAGMA user_version").fetchone()[0])
    if version >= len(_SCHEMA):
        return
    with writing(con):
        # Re-read inside the write lock: another process may have migrated meanwhile.
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(_SCHEMA[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")
