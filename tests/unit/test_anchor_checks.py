"""What verification says about a signed head, given what the log holds: pure, no vault.

Each message must say what was found and what it means, in words a steward or a
funder can act on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.hub.anchor import Anchor, AuditSigner
from pipelines.hub.anchor_checks import LogState, check_anchor, check_checkpoints, check_saved

T0 = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)


def h(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def signer(tmp_path: Path) -> AuditSigner:
    return AuditSigner(tmp_path / "audit-signing.key")


def signed(signer: AuditSigner, seq: int, reason: str = "publication") -> Anchor:
    return signer.sign(seq, h(seq), T0 + timedelta(minutes=seq), reason)  # type: ignore[arg-type]


def intact(head: int) -> LogState:
    return LogState(head, {s: h(s) for s in range(1, head + 1)})


def texts(findings: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f.text for f in findings)


def test_a_head_the_log_still_holds_passes(signer: AuditSigner) -> None:
    """Tests that a head signed by the hub's key whose entry still has its hash passes."""
    head = signed(signer, 120)
    (finding,) = check_anchor(head, "the saved anchor", signer.public_key(), intact(130))
    assert finding.ok
    assert (
        f"entry 120 of the saved anchor (signed 2026-07-01 11:30 UTC by key {head.key_fingerprint})"
        in finding.text
    )


def test_a_cut_log_is_named_with_where_it_now_ends(signer: AuditSigner) -> None:
    """Tests the truncation message: the anchored entry is missing, and the log now ends at
    an earlier entry."""
    head = signed(signer, 120)
    (finding,) = check_anchor(head, "the saved anchor", signer.public_key(), intact(97))
    assert not finding.ok
    assert finding.text == (
        f"entry 120 of the saved anchor (signed 2026-07-01 11:30 UTC by key "
        f"{head.key_fingerprint}) is missing: the log was cut short after entry 97"
    )


def test_a_rewritten_log_is_named_as_rewritten_at_or_before_the_entry(signer: AuditSigner) -> None:
    """Tests the re-chaining message: the anchored entry is there with another hash."""
    head = signed(signer, 120)
    log = LogState(130, {**intact(130).hashes, 120: h(999)})
    (finding,) = check_anchor(head, "the saved anchor", signer.public_key(), log)
    assert not finding.ok
    assert (
        "has a different hash in the vault: the log was rewritten at or before entry 120"
        in finding.text
    )


def test_a_saved_anchor_narrows_a_rewrite_with_its_checkpoints(signer: AuditSigner) -> None:
    """Tests that when the saved head no longer matches, the checkpoints saved with it say
    between which entries the change lies."""
    saved = [signed(signer, 10, "entries"), signed(signer, 20, "entries"), signed(signer, 30)]
    log = LogState(40, {**intact(40).hashes, **{s: h(1000 + s) for s in range(15, 41)}})
    found = texts(check_saved(saved[-1], saved, signer.public_key(), log))
    assert "entry 30 of the saved anchor" in found
    assert "entries up to 10 still match the saved checkpoint" in found
    assert "the change lies after entry 10 and at or before entry 20" in found


def test_a_tampered_or_unsigned_head_is_reported(signer: AuditSigner, tmp_path: Path) -> None:
    """Tests that a head with a forged signature, one signed by another key than the hub's,
    and one without a signature are each reported as such, even though the log matches."""
    head = signed(signer, 120)
    log, key = intact(120), signer.public_key()
    forged = replace(head, signature="1" + (head.signature or "")[1:])
    assert "does not verify under the public key it carries" in texts(
        check_anchor(forged, "the saved anchor", key, log)
    )
    other = AuditSigner(tmp_path / "other.key").sign(120, h(120), T0, "publication")
    found = texts(check_anchor(other, "the saved anchor", key, log))
    assert (
        f"signed by key {other.key_fingerprint}, but the hub now signs with key {head.key_fingerprint}"
        in found
    )
    assert "the signing key was replaced, or the anchor does not come from this hub" in found
    unsigned = Anchor(120, h(120), head.signed_at)
    assert "is not signed, so it cannot show whether the log was rewritten" in texts(
        check_anchor(unsigned, "the last publication", key, log)
    )


def test_a_saved_anchor_without_a_head_proves_nothing() -> None:
    """Tests that an anchor file published while the log was empty is reported, not passed."""
    (finding,) = check_saved(None, [], None, intact(3))
    assert not finding.ok
    assert "proves nothing" in finding.text


def test_checkpoints_deleted_from_the_vault_are_found_from_the_published_copy(
    signer: AuditSigner,
) -> None:
    """Tests that checkpoints published earlier but gone from the vault are reported, and are
    still checked against the log."""
    stored = [signed(signer, 10, "entries")]
    published = [*stored, signed(signer, 20, "entries")]
    log = LogState(15, {s: h(s) for s in range(1, 16)})
    found = check_checkpoints(stored, published, signer.public_key(), log)
    assert "1 checkpoint(s) published earlier are no longer in the vault" in texts(found)
    assert "entry 20 of a checkpoint" in texts(found)
    assert "is missing: the log was cut short after entry 15" in texts(found)
    assert not any(f.ok for f in found)


def test_intact_checkpoints_are_summed_up_in_one_line(signer: AuditSigner) -> None:
    """Tests that when every checkpoint holds, one line says how many and what they cover,
    and names the newest entries not covered yet."""
    stored = [signed(signer, s, "entries") for s in (5, 10, 15)]
    (finding,) = check_checkpoints(stored, stored, signer.public_key(), intact(17))
    assert finding.ok
    assert finding.text == (
        "all 3 signed checkpoints (entries 5 to 15) are signed by the hub's key and still match "
        "the log; entries after 15 are covered at the next checkpoint"
    )


def test_a_publication_made_before_heads_were_signed_reads_as_unsigned(tmp_path: Path) -> None:
    """Tests that a published zone written before this change (an unsigned head, no
    checkpoints table) is read as an unsigned head, which verification then reports, rather
    than as a malformed one."""
    import duckdb

    from pipelines.hub.anchor_checks import published_anchors

    path = tmp_path / "published.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE publication AS SELECT TIMESTAMPTZ '2025-12-01 00:00:00+00' AS "
            f"published_at, 42::BIGINT AS audit_seq, '{h(42)}' AS audit_hash"
        )
    head, published = published_anchors(path)
    assert head is not None
    assert (head.seq, head.hash, head.signed, published) == (42, h(42), False, [])
    (finding,) = check_anchor(head, "the last publication", None, intact(42))
    assert (
        "entry 42 of the last publication (recorded 2025-12-01 00:00 UTC, unsigned)" in finding.text
    )
