"""Checkpoints: when the audit log's head is signed, and that it is never signed over an altered log.

The clock and the thresholds are injected; nothing sleeps. The log lives in an
in-memory DuckDB with the vault's schema (the encrypted vault is exercised in
tests/integration/test_audit_anchor.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dp_helpers import memory_vault, rechain_audit_log

from pipelines.hub import audit, checkpoints
from pipelines.hub.anchor import Anchor, AnchorError, AuditSigner
from pipelines.hub.checkpoints import Policy, checkpoint_if_due, due, sign_head, signing

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
EVERY_3 = Policy(entries=3, interval=timedelta(minutes=10))


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = memory_vault()
    yield connection
    connection.close()


@pytest.fixture
def signer(tmp_path: Path) -> AuditSigner:
    return AuditSigner(tmp_path / "keys" / "audit-signing.key")


def record(con: duckdb.DuckDBPyConnection, n: int = 1) -> int:
    """Append ``n`` events; return the new head's seq."""
    audit.record(
        con, [audit.Event("tester", "budget_set", f"2025-Q3/ngo-{i}", {"i": i}) for i in range(n)]
    )
    head = audit.head(con)
    assert head is not None
    return head[0]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("head", "last", "minutes", "expected"),
    [
        (0, None, 0, None),  # an empty log has no head
        (1, None, 0, "time"),  # a log never signed is due at once
        (5, 5, 600, None),  # nothing new since the last checkpoint, however long ago
        (4, 5, 600, None),  # the log is behind its checkpoint: nothing to sign (checks say why)
        (7, 5, 1, None),  # 2 new entries, 1 minute: neither threshold reached
        (8, 5, 1, "entries"),  # 3 new entries
        (6, 5, 10, "time"),  # 10 minutes
    ],
)
def test_a_head_is_due_after_n_entries_or_t_time(
    head: int, last: int | None, minutes: float, expected: str | None
) -> None:
    """Tests the rule, with the thresholds injected: a head is due when the log has grown by
    the set number of entries, or when the set time has passed and there is anything new."""
    anchor = Anchor(last, "a1" * 32, T0.isoformat(timespec="microseconds")) if last else None
    assert due(head, anchor, at(minutes), EVERY_3) == expected


def test_the_default_thresholds_are_500_entries_or_an_hour() -> None:
    """Tests that the documented constants are what a vault session uses by default."""
    assert Policy() == Policy(entries=500, interval=timedelta(hours=1))
    assert checkpoints.ENTRIES_PER_CHECKPOINT == 500
    assert timedelta(hours=1) == checkpoints.CHECKPOINT_INTERVAL


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"entries": 0}, "at least 1 new entry, got 0"),
        ({"interval": timedelta(0)}, "interval must be positive, got 0:00:00"),
    ],
)
def test_a_policy_that_would_sign_nothing_or_always_is_refused(
    kwargs: dict[str, object], error: str
) -> None:
    """Tests that thresholds of zero are refused with the value given."""
    with pytest.raises(ValueError, match=error):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_checkpoints_are_made_after_n_entries_and_after_t_time(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that the head is signed and stored at once for a log never signed, then again
    only once 3 entries were added or 10 minutes passed with something new, and that each
    stored checkpoint is a valid signature of the entry it names."""
    record(con)
    assert checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3) is not None
    record(con, 2)
    assert checkpoint_if_due(con, signer, now=at(1), policy=EVERY_3) is None
    head = record(con)
    grown = checkpoint_if_due(con, signer, now=at(2), policy=EVERY_3)
    assert grown is not None
    assert (grown.seq, grown.reason) == (head, "entries")
    record(con)
    assert checkpoint_if_due(con, signer, now=at(11), policy=EVERY_3) is None
    timed = checkpoint_if_due(con, signer, now=at(12), policy=EVERY_3)
    assert timed is not None
    assert timed.reason == "time"
    assert checkpoint_if_due(con, signer, now=at(6000), policy=EVERY_3) is None  # nothing new

    stored = checkpoints.stored(con)
    assert [(a.seq, a.reason) for a in stored] == [(1, "time"), (4, "entries"), (5, "time")]
    for anchor in stored:
        assert anchor.signature_valid()
        assert audit.hash_at(con, anchor.seq) == anchor.hash


def test_a_session_that_ends_signs_what_is_due_and_one_that_fails_leaves_it_to_the_next(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests the hook every vault session ends through: entries written in a session are
    signed when it ends, with no call by the code that wrote them; a session that raised
    signs nothing, and the next session to end catches up."""
    with signing(con, signer, EVERY_3):
        record(con)
    assert [a.seq for a in checkpoints.stored(con)] == [1]

    def failing_session() -> None:
        with signing(con, signer, EVERY_3):
            record(con, 3)
            raise RuntimeError("the caller failed after writing")

    with pytest.raises(RuntimeError, match="failed after writing"):
        failing_session()
    assert [a.seq for a in checkpoints.stored(con)] == [1]

    with signing(con, signer, EVERY_3):
        pass
    assert [a.seq for a in checkpoints.stored(con)] == [1, 4]

    with signing(con, None, EVERY_3):
        record(con, 5)
    assert [a.seq for a in checkpoints.stored(con)] == [1, 4]


def test_no_head_is_signed_over_a_rechained_log(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that after an entry before the newest checkpoint is edited and every later hash
    recomputed, neither a checkpoint nor a publication signs the new head: both say the log
    no longer holds the signed entry."""
    record(con, 4)
    signed = checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3)
    assert signed is not None
    rechain_audit_log(con, 2, i=999)
    record(con, 3)
    with pytest.raises(AnchorError, match=f"no longer holds entry {signed.seq} as signed"):
        checkpoint_if_due(con, signer, now=at(1), policy=EVERY_3)
    with pytest.raises(AnchorError, match="Nothing is signed over an altered log"):
        sign_head(con, signer, now=at(1))
    assert [a.seq for a in checkpoints.stored(con)] == [signed.seq]


def test_no_head_is_signed_over_a_log_cut_short_and_written_on(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that when the newest entries are deleted and new ones written in their place,
    the next checkpoint refuses to sign: the signed entry's hash is gone."""
    record(con, 5)
    assert checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3) is not None
    con.execute("DELETE FROM audit_log WHERE seq >= 4")
    record(con, 5)
    with pytest.raises(AnchorError, match="no longer holds entry 5 as signed"):
        checkpoint_if_due(con, signer, now=at(1), policy=EVERY_3)


def test_a_broken_chain_after_the_checkpoint_is_not_signed(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that an entry edited after the newest checkpoint (hashes not recomputed) stops the
    next checkpoint, naming the entry where the chain breaks."""
    record(con, 2)
    assert checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3) is not None
    record(con, 3)
    con.execute("UPDATE audit_log SET subject = 'edited' WHERE seq = 4")
    with pytest.raises(AnchorError, match="the audit log breaks at entry 4"):
        checkpoint_if_due(con, signer, now=at(1), policy=EVERY_3)


def test_a_forged_checkpoint_row_is_passed_over_and_replaced(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that a checkpoint row whose signature does not verify (written by someone without
    the key, to make the log look signed) neither stops nor fools the next checkpoint."""
    record(con)
    first = checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3)
    assert first is not None
    head = record(con, 3)
    forged = Anchor(
        head, str(audit.hash_at(con, head)), first.signed_at, "00" * 64, first.public_key
    )
    values = forged.as_record()
    con.execute(
        "INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
        [values[c] for c in checkpoints.COLUMNS],
    )
    made = checkpoint_if_due(con, signer, now=at(1), policy=EVERY_3)
    assert made is not None
    assert made.seq == head
    assert all(a.signature_valid() for a in checkpoints.stored(con))


def test_a_lost_signing_key_is_not_silently_replaced(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that once heads were signed, a missing key file stops signing with a message
    naming the earlier key's fingerprint and the fix, instead of making a new key."""
    record(con)
    first = checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3)
    assert first is not None
    signer.path.unlink()
    record(con, 3)
    with pytest.raises(AnchorError, match=f"signed by key {first.key_fingerprint}: restore"):
        checkpoint_if_due(con, AuditSigner(signer.path), now=at(1), policy=EVERY_3)
    assert not signer.path.exists()


def test_a_publication_signs_the_head_or_reuses_its_checkpoint(
    con: duckdb.DuckDBPyConnection, signer: AuditSigner
) -> None:
    """Tests that a publication carries the head signed: the newest checkpoint when it already
    is the head, a new one signed for the publication otherwise; and that a session with no
    signer publishes the head unsigned."""
    record(con, 2)
    checkpointed = checkpoint_if_due(con, signer, now=at(0), policy=EVERY_3)
    assert sign_head(con, signer, now=at(1)) == checkpointed
    record(con)
    fresh = sign_head(con, signer, now=at(2))
    assert fresh is not None
    assert (fresh.seq, fresh.reason) == (3, "publication")
    assert fresh.signature_valid()

    unsigned = checkpoints.publication_head(con)
    assert unsigned is not None
    assert (unsigned.seq, unsigned.signed) == (3, False)
    with signing(con, signer):
        assert checkpoints.publication_head(con) == fresh
