"""Checks of the audit log against signed heads: the vault's checkpoints, the last publication's
head, and an anchor file someone kept.

Each finding says what was found and what it means, for the steward who runs
``outcomes audit --verify`` and for the funder or NGO who hands in an anchor they
saved. A signed head settles the whole history before it: when the vault's entry
at that number still has the signed hash and the chain is intact, no earlier
entry can have changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.hub import audit, checkpoints
from pipelines.hub.anchor import KEY_FILE_ENV, Anchor, AnchorError, fingerprint
from pipelines.published.export import read_anchor
from pipelines.published.store import ANCHOR_FIELDS, NotPublished, read_table

_SHOWN = 3
"""Problems listed one by one before the rest are counted."""


@dataclass(frozen=True)
class Finding:
    """One thing a check found: ``ok`` when it holds, else what is wrong and what it means."""

    ok: bool
    text: str


@dataclass(frozen=True)
class LogState:
    """What the vault's log holds at the entries some anchors name."""

    head_seq: int
    hashes: Mapping[int, str]


def log_state(con: duckdb.DuckDBPyConnection, anchors: Iterable[Anchor]) -> LogState:
    """The log's newest entry and its stored hash at every entry the anchors name."""
    seqs = sorted({a.seq for a in anchors})
    rows = con.execute(
        "SELECT seq, hash FROM audit_log WHERE list_contains(?, seq)", [seqs]
    ).fetchall()
    head = audit.head(con)
    return LogState(head[0] if head else 0, {int(s): str(h) for s, h in rows})


def _place(anchor: Anchor, what: str) -> str:
    return f"entry {anchor.seq} of {what} ({anchor.provenance()})"


def _mismatch(anchor: Anchor, log: LogState) -> bool:
    return log.hashes.get(anchor.seq) != anchor.hash


def check_anchor(
    anchor: Anchor, what: str, current_key: str | None, log: LogState
) -> list[Finding]:
    """Whether ``anchor`` is signed, by the hub's current key, and still matches the log."""
    place = _place(anchor, what)
    problems = []
    if not anchor.signed:
        problems.append(f"{place} is not signed, so it cannot show whether the log was rewritten")
    elif not anchor.signature_valid():
        problems.append(
            f"the signature of {place} does not verify under the public key it carries: "
            "it was altered after signing, or forged"
        )
    elif current_key is not None and anchor.public_key != current_key:
        problems.append(
            f"{place} was signed by key {anchor.key_fingerprint}, but the hub now signs with key "
            f"{fingerprint(current_key)}: the signing key was replaced, or the anchor does not "
            "come from this hub"
        )
    stored = log.hashes.get(anchor.seq)
    if stored is None:
        problems.append(
            f"{place} is missing: the log was cut short after entry {min(log.head_seq, anchor.seq - 1)}"
        )
    elif stored != anchor.hash:
        problems.append(
            f"{place} has a different hash in the vault: the log was rewritten at or before "
            f"entry {anchor.seq}"
        )
    if problems:
        return [Finding(False, p) for p in problems]
    key = "the hub's key" if current_key is not None else f"key {anchor.key_fingerprint}"
    return [Finding(True, f"{place} is signed by {key} and the log still holds it unchanged")]


def _narrowed(head: Anchor, checkpoints: Sequence[Anchor], log: LogState) -> Finding | None:
    """Where a rewrite lies, from the checkpoints saved with a head that no longer matches."""
    trusted = [
        c
        for c in checkpoints
        if c.seq <= head.seq and c.public_key == head.public_key and c.signature_valid()
    ]
    intact = [c for c in trusted if not _mismatch(c, log)]
    changed = [c.seq for c in trusted if _mismatch(c, log)]
    if not intact:
        return None
    last_good = max(intact, key=lambda c: c.seq)
    first_bad = min([s for s in changed if s > last_good.seq], default=head.seq)
    return Finding(
        False,
        f"entries up to {last_good.seq} still match the saved checkpoint "
        f"({last_good.provenance()}), so the change lies after entry {last_good.seq} and at or "
        f"before entry {first_bad}",
    )


def check_saved(
    head: Anchor | None,
    checkpoints: Sequence[Anchor],
    current_key: str | None,
    log: LogState,
) -> list[Finding]:
    """A saved anchor file: its head (and, when it no longer matches, where the change lies)."""
    if head is None:
        return [
            Finding(
                False,
                "the saved anchor holds no head: it was published while the audit log was empty, "
                "and proves nothing",
            )
        ]
    findings = check_anchor(head, "the saved anchor", current_key, log)
    if _mismatch(head, log) and head.signature_valid():
        narrowed = _narrowed(head, checkpoints, log)
        if narrowed is not None:
            findings.append(narrowed)
    return findings


def check_checkpoints(
    stored: Sequence[Anchor],
    published: Sequence[Anchor],
    current_key: str | None,
    log: LogState,
) -> list[Finding]:
    """Every checkpoint the vault holds, and every one published earlier, against the log."""
    held = {(a.seq, a.public_key, a.signature) for a in stored}
    gone = [a for a in published if (a.seq, a.public_key, a.signature) not in held]
    findings = []
    if gone:
        findings.append(
            Finding(
                False,
                f"{len(gone)} checkpoint(s) published earlier are no longer in the vault (the first: "
                f"{_place(gone[0], 'a published checkpoint')}): the vault's checkpoints were edited",
            )
        )
    every = sorted([*stored, *gone], key=lambda a: (a.seq, a.signed_at))
    if not every:
        return [
            *findings,
            Finding(
                True,
                "no signed checkpoint is stored in the vault or the published zone, so none "
                "can be checked here",
            ),
        ]
    problems = [
        f.text for a in every for f in check_anchor(a, "a checkpoint", current_key, log) if not f.ok
    ]
    findings.extend(Finding(False, p) for p in problems[:_SHOWN])
    if len(problems) > _SHOWN:
        findings.append(
            Finding(
                False, f"... and {len(problems) - _SHOWN} more problem(s) with later checkpoints"
            )
        )
    if not problems:
        covered = max(a.seq for a in every)
        findings.append(
            Finding(
                True,
                f"all {len(every):,} signed checkpoints (entries {every[0].seq:,} to {covered:,}) "
                "are signed by the hub's key and still match the log"
                + (
                    f"; entries after {covered:,} are covered at the next checkpoint"
                    if log.head_seq > covered
                    else ""
                ),
            )
        )
    return findings


# --- reading the anchors, and checking them all ------------------------------------------------


def published_anchors(published_db: Path) -> tuple[Anchor | None, list[Anchor]]:
    """The last publication's head (None if nothing was published, or the log was empty) and
    every checkpoint it published. Raises :class:`AnchorError` when they are malformed."""
    try:
        publication = read_table(published_db, "publication").to_dict("records")
        published = read_table(published_db, "audit_checkpoints").to_dict("records")
    except NotPublished:
        return None, []
    except duckdb.CatalogException:  # published before heads were signed
        published = []
    row = publication[0] if publication else {}
    if pd.isna(row.get("audit_seq")):
        return None, []
    record = {k: row.get(f"audit_{k}") for k in ANCHOR_FIELDS}
    if pd.isna(record["signed_at"]):  # published before heads were signed: unsigned
        record["signed_at"] = pd.Timestamp(row["published_at"]).isoformat()
    return Anchor.from_record(record), [Anchor.from_record(r) for r in published]


def saved_anchors(path: Path) -> tuple[Anchor | None, list[Anchor]]:
    """The head and checkpoints of an anchor file someone kept (or a saved exports folder).
    Raises ``ValueError`` or :class:`AnchorError`, in a sentence, when it is not one."""
    document = read_anchor(path)
    head = Anchor.from_record(document["head"]) if document["head"] else None
    return head, [Anchor.from_record(c) for c in document.get("checkpoints", [])]


def check_log(
    con: duckdb.DuckDBPyConnection,
    *,
    current_key: str | None,
    key_file: Path | None,
    published: tuple[Anchor | None, Sequence[Anchor]] = (None, ()),
    saved: tuple[Anchor | None, Sequence[Anchor]] | None = None,
) -> list[Finding]:
    """Everything ``outcomes audit --verify`` checks: the chain, every checkpoint in the vault
    and every one published, the last publication's head and, when given, a saved anchor."""
    findings = []
    entries = con.execute("SELECT count(*) FROM audit_log").fetchone()
    broken = audit.verify(con)
    if broken is None:
        findings.append(
            Finding(True, f"the hash chain is intact ({entries[0] if entries else 0:,} entries)")
        )
    else:
        findings.append(
            Finding(False, f"the audit log's hash chain breaks at entry {broken}: it was altered")
        )
    try:
        stored = checkpoints.stored(con)
    except AnchorError as exc:
        findings.append(
            Finding(False, f"a checkpoint in the vault is malformed ({exc}): the table was edited")
        )
        stored = []
    published_head, published_checkpoints = published
    saved_head, saved_checkpoints = saved if saved is not None else (None, ())
    signed_before = [a for a in (*stored, *published_checkpoints, published_head) if a and a.signed]
    if current_key is None and signed_before:
        findings.append(
            Finding(
                False,
                f"the hub has no audit signing key at {key_file}, but heads were signed by key "
                f"{signed_before[0].key_fingerprint}: restore that key file, or set "
                f"{KEY_FILE_ENV} to where it is kept",
            )
        )
    heads = [a for a in (published_head, saved_head) if a is not None]
    log = log_state(con, [*stored, *published_checkpoints, *saved_checkpoints, *heads])
    findings += check_checkpoints(stored, published_checkpoints, current_key, log)
    if published_head is not None:
        findings += check_anchor(published_head, "the last publication", current_key, log)
    if saved is not None:
        findings += check_saved(saved_head, saved_checkpoints, current_key, log)
    return findings
