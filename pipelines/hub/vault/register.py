"""The vault's copy of the NGO register: public facts the release core reads beside the data.

The register's home is the hub's desk (SQLite), where the service and the
``outcomes ngo`` commands change it while the vault may be busy. Every time the
vault is opened, the desk's register is copied here when it changed, so a
release, a proposal or a publication reads the register in the same
transaction as the rows, without reaching outside the vault. It holds no
token and no token hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from pipelines.db import transaction

REGISTER_DDL = """
CREATE TABLE ngo_register (
    ngo_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, programmes VARCHAR[] NOT NULL,
    regions VARCHAR[] NOT NULL, active BOOLEAN NOT NULL
);
CREATE TABLE ngo_register_copy (digest VARCHAR NOT NULL, copied_at TIMESTAMPTZ NOT NULL);
"""


@dataclass(frozen=True)
class RegisteredNgo:
    """What the register says publicly about one NGO."""

    ngo_id: str
    name: str
    programmes: tuple[str, ...]
    regions: tuple[str, ...]
    active: bool


def digest(con: duckdb.DuckDBPyConnection) -> str | None:
    """The digest of the register last copied here (None before the first copy)."""
    row = con.execute("SELECT digest FROM ngo_register_copy").fetchone()
    return str(row[0]) if row else None


def replace(con: duckdb.DuckDBPyConnection, ngos: Iterable[RegisteredNgo], new_digest: str) -> None:
    """Replace the copy with ``ngos``, all at once."""
    rows = [[n.ngo_id, n.name, list(n.programmes), list(n.regions), n.active] for n in ngos]
    with transaction(con):
        con.execute("DELETE FROM ngo_register")
        if rows:
            con.executemany("INSERT INTO ngo_register VALUES (?, ?, ?, ?, ?)", rows)
        con.execute("DELETE FROM ngo_register_copy")
        con.execute("INSERT INTO ngo_register_copy VALUES (?, now())", [new_digest])


def ids(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Every registered NGO id (revoked ones included: their data and releases stay theirs)."""
    return frozenset(str(n) for (n,) in con.execute("SELECT ngo_id FROM ngo_register").fetchall())


def listing(con: duckdb.DuckDBPyConnection) -> list[RegisteredNgo]:
    return [
        RegisteredNgo(str(n), str(name), tuple(p), tuple(r), bool(a))
        for n, name, p, r, a in con.execute(
            "SELECT ngo_id, name, programmes, regions, active FROM ngo_register ORDER BY ngo_id"
        ).fetchall()
    ]
