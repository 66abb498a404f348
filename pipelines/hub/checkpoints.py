"""Checkpoints: the audit log's head, signed as the log grows, so recent entries are covered too.

A publication signs the head of the audit chain (:func:`publication_head`), but entries
written after it would stay unanchored until the next one. So every vault session ends
through :func:`signing` (``Vault.connect`` wraps each connection in it): when the log
has grown by :data:`ENTRIES_PER_CHECKPOINT` entries since the newest checkpoint, or
:data:`CHECKPOINT_INTERVAL` has passed and there are new entries, the head is signed and
stored in ``audit_checkpoints``. No code that writes audit entries has to remember
anything, and a session that crashed is caught up by the next one to end.

Before signing, the entries since the newest checkpoint this key signed are checked, so
a head is never signed over a log that was cut or altered since. This module is the one
home of the ``audit_checkpoints`` table's SQL; every checkpoint is published at each
publication.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd

from pipelines.db import transaction
from pipelines.hub import audit
from pipelines.hub.anchor import KEY_FILE_ENV, Anchor, AnchorError, AuditSigner, Reason

ENTRIES_PER_CHECKPOINT = 500
"""Sign the head once the log has grown by this many entries since the newest checkpoint:
at national scale (tens of thousands of entries a year) a few a week."""
CHECKPOINT_INTERVAL = timedelta(hours=1)
"""...or once this long has passed since the newest checkpoint and there are new entries, so
a quiet hub's last entries are covered within the hour of its next session."""

CHECKPOINTS_DDL = """
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq BIGINT NOT NULL,
    hash VARCHAR NOT NULL,
    signed_at VARCHAR NOT NULL,       -- exactly the text that was signed
    reason VARCHAR NOT NULL,          -- entries | time | publication
    signature VARCHAR NOT NULL,       -- hex Ed25519 signature of anchor.message(seq, hash, signed_at)
    public_key VARCHAR NOT NULL,      -- hex of the 32-byte Ed25519 public key
    key_fingerprint VARCHAR NOT NULL,
    PRIMARY KEY (seq, public_key)
)
"""
COLUMNS = ("seq", "hash", "signed_at", "reason", "signature", "public_key", "key_fingerprint")


@dataclass(frozen=True)
class Policy:
    """When the end of a session signs the head."""

    entries: int = ENTRIES_PER_CHECKPOINT
    interval: timedelta = CHECKPOINT_INTERVAL

    def __post_init__(self) -> None:
        if self.entries < 1:
            raise ValueError(f"a checkpoint needs at least 1 new entry, got {self.entries}")
        if self.interval <= timedelta(0):
            raise ValueError(f"the checkpoint interval must be positive, got {self.interval}")


def due(
    head_seq: int, last: Anchor | None, now: datetime, policy: Policy = Policy()
) -> Reason | None:
    """Why the head (entry ``head_seq``) should be signed at ``now``, or None.

    A log never signed is due at once: the time since its last signature is unbounded.
    """
    if head_seq < 1 or (last is not None and head_seq <= last.seq):
        return None
    if last is None:
        return "time"
    if head_seq - last.seq >= policy.entries:
        return "entries"
    if now - datetime.fromisoformat(last.signed_at) >= policy.interval:
        return "time"
    return None


def frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored checkpoint, oldest first, one row each: what a publication publishes."""
    return (
        con.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_checkpoints ORDER BY seq, signed_at")
        .to_arrow_table()
        .to_pandas()
    )


def stored(con: duckdb.DuckDBPyConnection) -> list[Anchor]:
    """Every stored checkpoint, oldest first."""
    return [Anchor.from_record(r) for r in frame(con).to_dict("records")]


def _trusted(con: duckdb.DuckDBPyConnection, public_key: str) -> Anchor | None:
    """The newest checkpoint whose signature verifies under ``public_key``: a forged row is passed over."""
    result = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_checkpoints WHERE public_key = ? "
        "ORDER BY seq DESC, signed_at DESC",
        [public_key],
    )
    while rows := result.fetchmany(32):
        for row in rows:
            try:
                anchor = Anchor.from_record(dict(zip(COLUMNS, row, strict=True)))
            except AnchorError:
                continue
            if anchor.signature_valid():
                return anchor
    return None


def _sign(
    con: duckdb.DuckDBPyConnection,
    signer: AuditSigner,
    *,
    head: tuple[int, str],
    reason: Reason,
    now: datetime,
    last: Anchor | None,
) -> Anchor:
    """Check the log since ``last``, then sign its head and store the checkpoint."""
    if not signer.exists:
        other = con.execute("SELECT key_fingerprint FROM audit_checkpoints LIMIT 1").fetchone()
        if other:
            raise AnchorError(
                f"there is no audit signing key at {signer.path}, but the vault holds heads signed "
                f"by key {other[0]}: restore that key file there, or set {KEY_FILE_ENV} to where "
                "it is kept. A new key would leave every earlier signed head unverifiable."
            )
    broken = audit.verify(con, start=(last.seq, last.hash) if last else None)
    if broken is not None:
        if last is not None and broken == last.seq:
            found = f"no longer holds entry {last.seq} as signed ({last.provenance()})"
        else:
            found = f"breaks at entry {broken}"
        raise AnchorError(
            f"the audit log {found}: it was cut short or altered. Nothing is signed over an "
            "altered log; run `outcomes audit --verify` to see what changed."
        )
    anchor = signer.sign(head[0], head[1], now, reason)
    record = anchor.as_record()
    # Replaces only a row that did not verify: a valid one for this head would have been `last`.
    con.execute(
        f"INSERT OR REPLACE INTO audit_checkpoints ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [record[c] for c in COLUMNS],
    )
    return anchor


def checkpoint_if_due(
    con: duckdb.DuckDBPyConnection,
    signer: AuditSigner,
    *,
    now: datetime | None = None,
    policy: Policy = Policy(),
) -> Anchor | None:
    """Sign and store the head if :func:`due`; return the new checkpoint, if any."""
    now = now or datetime.now(UTC)
    with transaction(con):
        head = audit.head(con)
        last = _trusted(con, signer.public_key()) if signer.exists else None
        reason = due(head[0], last, now, policy) if head else None
        return (
            _sign(con, signer, head=head, reason=reason, now=now, last=last)
            if head and reason
            else None
        )


def sign_head(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner, *, now: datetime | None = None
) -> Anchor | None:
    """The head signed for a publication: the newest checkpoint when it is already the head."""
    now = now or datetime.now(UTC)
    with transaction(con):
        head = audit.head(con)
        last = _trusted(con, signer.public_key()) if signer.exists else None
        if head is None:
            return None
        if last is not None and (last.seq, last.hash) == head:
            return last
        return _sign(con, signer, head=head, reason="publication", now=now, last=last)


_BOUND: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, AuditSigner] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def signing(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner | None, policy: Policy = Policy()
) -> Iterator[None]:
    """Lend ``signer`` to the session on ``con``; when the session ends cleanly, sign the head
    if it is due. A session that raised is left alone: the next one to end catches up."""
    if signer is None:
        yield
        return
    _BOUND[con] = signer
    try:
        yield
        checkpoint_if_due(con, signer, policy=policy)
    finally:
        _BOUND.pop(con, None)


def publication_head(con: duckdb.DuckDBPyConnection) -> Anchor | None:
    """The head a publication carries: signed by the session's signer, unsigned without one."""
    signer = _BOUND.get(con)
    if signer is not None:
        return sign_head(con, signer)
    head = audit.head(con)
    if head is None:
        return None
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    return Anchor(head[0], head[1], now)
