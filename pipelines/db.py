"""Database helpers every zone shares: an offline connection, one transaction, a registered frame.

The vault (steward zone) and ``published.duckdb`` (published zone) are DuckDB
files and the hub's front desk is SQLite; the published zone must not import
the hub, so what they all need lives here. :func:`transaction` is the only place in the code base that says
``BEGIN``, ``COMMIT`` or ``ROLLBACK``: every write that must be all-or-nothing
goes through it, and any error (an interrupt included) rolls it back.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Protocol, TypeVar

import duckdb
import pandas as pd

_names = itertools.count()


def offline_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can never fetch an extension from the network."""
    return duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        }
    )


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


C = TypeVar("C", bound=_Executes)


@contextlib.contextmanager
def transaction(con: C, *, immediate: bool = False) -> Iterator[C]:
    """Run the block in one transaction: committed when it ends, rolled back on any error.

    ``BaseException`` rolls back too: a Ctrl-C or SIGTERM in the middle of a write
    leaves nothing half-done. ``immediate`` lets SQLite take its write lock up front
    (``BEGIN IMMEDIATE``), so that two writers never deadlock on an upgrade.
    """
    con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        # The connection may already have aborted the transaction; the original error matters.
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    """Expose ``frame`` to SQL under a fresh name for the block; yield the name."""
    name = f"_frame_{next(_names)}"
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)
