"""The NGO register: who may use the hub's API, and the public facts about each NGO.

An NGO's name, programmes and regions are public (what it is funded to
deliver); the site shows the name, and releases use programmes and regions as
public key sets. Its API token is 256 bits of randomness with a recognisable
prefix, shown once when issued; the register keeps only its SHA-256 (a token
that random needs no slow hash) and compares in constant time. Every change is
journalled for the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.hub.desk import journal
from pipelines.hub.desk.store import writing
from pipelines.standard.api import TOKEN_PREFIX
from pipelines.standard.contract import load_contract
from pipelines.standard.names import check_ngo_id

_TOKEN_BYTES = 32
MAX_NAME = 200


class RegisterError(ValueError):
    """A register change or lookup that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class Ngo:
    """One registered NGO, as the register holds it (never its token)."""

    ngo_id: str
    name: str
    programmes: tuple[str, ...]
    regions: tuple[str, ...]
    status: str  # active | revoked
    registered_at: str
    token_issued_at: str | None

    @property
    def active(self) -> bool:
        return self.status == "active"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _canonical(values: Iterable[str], column: str, dataset: str = "episodes") -> tuple[str, ...]:
    """Values of a contract enum, aliases (regions without macrons) made canonical; others refused."""
    spec = load_contract(dataset).column(column)
    accepted, aliases = set(spec.accepted_values), spec.aliases
    found: list[str] = []
    for raw in values:
        value = raw.strip()
        value = aliases.get(value, value)
        if value not in accepted:
            raise RegisterError(
                f"{value!r} is not a {column} of the data standard; use one of: "
                + ", ".join(spec.accepted_values)
            )
        if value not in found:
            found.append(value)
    order = {v: i for i, v in enumerate(spec.accepted_values)}
    return tuple(sorted(found, key=order.__getitem__))


def _name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in text if c not in "\t\n"):
        raise RegisterError(f"the NGO's name must be 1 to {MAX_NAME} printable characters")
    return name


def _row(values: Sequence[object]) -> Ngo:
    ngo_id, name, programmes, regions, status, registered_at, issued = values
    return Ngo(
        str(ngo_id),
        str(name),
        tuple(json.loads(str(programmes))),
        tuple(json.loads(str(regions))),
        str(status),
        str(registered_at),
        None if issued is None else str(issued),
    )


_COLUMNS = "ngo_id, name, programmes, regions, status, registered_at, token_issued_at"


def get(con: sqlite3.Connection, ngo_id: str) -> Ngo | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM ngos WHERE ngo_id = ?", [ngo_id]).fetchone()
    return _row(row) if row else None


def listing(con: sqlite3.Connection) -> list[Ngo]:
    return [_row(r) for r in con.execute(f"SELECT {_COLUMNS} FROM ngos ORDER BY ngo_id")]


def register(
    con: sqlite3.Connection,
    *,
    ngo_id: str,
    name: str,
    programmes: Iterable[str] = (),
    regions: Iterable[str] = (),
    actor: str,
) -> str:
    """Register a new NGO; return its API token (shown once, never stored)."""
    check_ngo_id(ngo_id)
    clean_name = _name(name)
    progs = _canonical(programmes, "programme")
    regs = _canonical(regions, "region")
    token = new_token()
    now = _now()
    with writing(con):
        if get(con, ngo_id) is not None:
            raise RegisterError(
                f"{ngo_id} is already registered. Change its details with `outcomes ngo update "
                f"--ngo {ngo_id}`, or issue a new token with `outcomes ngo rotate-token --ngo {ngo_id}`."
            )
        con.execute(
            "INSERT INTO ngos VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)",
            [
                ngo_id,
                clean_name,
                json.dumps(progs),
                json.dumps(regs),
                token_hash(token),
                now,
                now,
                now,
            ],
        )
        journal.record(
            con,
            actor,
            "ngo_registered",
            ngo_id,
            {"name": clean_name, "programmes": list(progs), "regions": list(regs)},
        )
    return token


def update(
    con: sqlite3.Connection,
    *,
    ngo_id: str,
    name: str | None = None,
    programmes: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    actor: str,
) -> Ngo:
    """Change a registered NGO's public facts; its token is untouched."""
    with writing(con):
        ngo = require(con, ngo_id, active=False)
        changed = {
            "name": _name(name) if name is not None else ngo.name,
            "programmes": list(_canonical(programmes, "programme"))
            if programmes is not None
            else list(ngo.programmes),
            "regions": list(_canonical(regions, "region"))
            if regions is not None
            else list(ngo.regions),
        }
        con.execute(
            "UPDATE ngos SET name = ?, programmes = ?, regions = ?, updated_at = ? WHERE ngo_id = ?",
            [
                changed["name"],
                json.dumps(changed["programmes"]),
                json.dumps(changed["regions"]),
                _now(),
                ngo_id,
            ],
        )
        journal.record(con, actor, "ngo_updated", ngo_id, changed)
    updated = get(con, ngo_id)
    assert updated is not None
    return updated


def _retire(con: sqlite3.Connection, ngo_id: str, why: str, now: str) -> None:
    """Remember the hash of the NGO's current token, so that a request with it is reported as a
    token that was revoked or replaced, not as an unknown one."""
    con.execute(
        "INSERT OR IGNORE INTO retired_tokens "
        "SELECT token_hash, ngo_id, ?, ? FROM ngos WHERE ngo_id = ? AND token_hash IS NOT NULL",
        [now, why, ngo_id],
    )


def rotate_token(con: sqlite3.Connection, *, ngo_id: str, actor: str) -> str:
    """Issue a new token (the old one stops working at once); return it. Re-activates a revoked NGO."""
    token = new_token()
    with writing(con):
        require(con, ngo_id, active=False)
        now = _now()
        _retire(con, ngo_id, "replaced", now)
        con.execute(
            "UPDATE ngos SET token_hash = ?, token_issued_at = ?, status = 'active', updated_at = ? "
            "WHERE ngo_id = ?",
            [token_hash(token), now, now, ngo_id],
        )
        journal.record(con, actor, "ngo_token_rotated", ngo_id, {})
    return token


def revoke(con: sqlite3.Connection, *, ngo_id: str, actor: str) -> None:
    """Revoke the NGO's token: every request with it is refused until a new one is issued."""
    with writing(con):
        require(con, ngo_id, active=False)
        now = _now()
        _retire(con, ngo_id, "revoked", now)
        con.execute(
            "UPDATE ngos SET token_hash = NULL, status = 'revoked', updated_at = ? WHERE ngo_id = ?",
            [now, ngo_id],
        )
        journal.record(con, actor, "ngo_revoked", ngo_id, {})


def authenticate(con: sqlite3.Connection, token: str) -> Ngo | None:
    """The active NGO whose token this is, or None. Compared in constant time."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    wanted = token_hash(token)
    row = con.execute(
        f"SELECT {_COLUMNS}, token_hash FROM ngos WHERE token_hash = ? AND status = 'active'",
        [wanted],
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row[-1]), wanted):
        return None
    return _row(row[:-1])


@dataclass(frozen=True)
class Retired:
    """A token that no longer works: whose it was, and whether it was revoked or replaced."""

    ngo_id: str
    why: str  # revoked | replaced
    retired_at: str


def retired(con: sqlite3.Connection, token: str) -> Retired | None:
    """The NGO whose revoked or replaced token this is, or None (an unknown token)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = con.execute(
        "SELECT ngo_id, why, retired_at FROM retired_tokens WHERE token_hash = ?",
        [token_hash(token)],
    ).fetchone()
    return Retired(str(row[0]), str(row[1]), str(row[2])) if row else None


def require(con: sqlite3.Connection, ngo_id: str, *, active: bool = True) -> Ngo:
    """The registered NGO ``ngo_id``, or a :class:`RegisterError` saying how to register it."""
    ngo = get(con, ngo_id)
    if ngo is None:
        raise RegisterError(
            f"{ngo_id} is not a registered NGO. Register it first with `outcomes ngo register "
            f'--ngo {ngo_id} --name "NAME" [--programmes p1,p2] [--regions r1,r2]`.'
        )
    if active and not ngo.active:
        raise RegisterError(
            f"{ngo_id}'s access was revoked; issue a new token with "
            f"`outcomes ngo rotate-token --ngo {ngo_id}`."
        )
    return ngo


def unregistered(con: sqlite3.Connection, ngo_ids: Iterable[str]) -> list[str]:
    """Those of ``ngo_ids`` the register does not know, sorted."""
    known = {str(n) for (n,) in con.execute("SELECT ngo_id FROM ngos")}
    return sorted(set(ngo_ids) - known)
