"""Signed audit heads: the signature, the key file, and what a head refuses to be.

Everything here runs on a key file in ``tmp_path``; no vault is opened.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from pipelines.home import Home
from pipelines.hub.anchor import (
    KEY_FILE_ENV,
    PURPOSE,
    Anchor,
    AnchorError,
    AuditSigner,
    audit_signer,
    message,
    signing_key_file,
)

HASH = "a1" * 32
AT = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def signer(tmp_path: Path) -> AuditSigner:
    return AuditSigner(tmp_path / "keys" / "audit-signing.key")


def test_a_signed_head_verifies_and_survives_its_published_record(signer: AuditSigner) -> None:
    """Tests that a head signed by the hub verifies under the public key it carries, that it
    comes back equal (and still valid) from the record that is published and exported, and
    that the signed bytes are the documented canonical JSON, so any Ed25519 tool can check it."""
    head = signer.sign(120, HASH, AT, "publication")
    assert head.signed
    assert head.signature_valid()
    again = Anchor.from_record(json.loads(json.dumps(head.as_record())))
    assert again == head
    assert again.signature_valid()
    assert head.key_fingerprint == again.key_fingerprint
    assert len(head.key_fingerprint or "") == 16

    signed = (
        '{"hash":"' + HASH + '","purpose":"' + PURPOSE + '","seq":120,'
        '"signed_at":"2026-07-01T09:30:00.000000+00:00"}'
    ).encode()
    assert message(120, HASH, head.signed_at) == signed
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(head.public_key or ""))
    public.verify(bytes.fromhex(head.signature or ""), signed)  # raises if it does not verify


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 121},
        {"hash": "b2" * 32},
        {"signed_at": "2026-07-01T09:31:00.000000+00:00"},
        {"signature": "00" * 64},
        {"signature": "zz"},
    ],
)
def test_a_head_changed_after_signing_no_longer_verifies(
    signer: AuditSigner, change: dict[str, object]
) -> None:
    """Tests that changing any signed field of a head, or its signature, makes it fail."""
    head = signer.sign(120, HASH, AT, "entries")
    assert not replace(head, **change).signature_valid()  # type: ignore[arg-type]


def test_a_head_signed_by_another_key_does_not_pass_for_the_hubs(
    signer: AuditSigner, tmp_path: Path
) -> None:
    """Tests that a forger's head carrying the hub's public key fails, and that one carrying
    the forger's own key verifies only under a different fingerprint."""
    hub = signer.sign(120, HASH, AT, "publication")
    forger = AuditSigner(tmp_path / "forger.key").sign(120, "b2" * 32, AT, "publication")
    assert not replace(forger, public_key=hub.public_key).signature_valid()
    assert forger.signature_valid()
    assert forger.key_fingerprint != hub.key_fingerprint


def test_the_key_file_is_made_owner_only_on_first_use_and_kept(signer: AuditSigner) -> None:
    """Tests that the signing key file is created on first use, readable by its owner only, in
    an owner-only folder, and that later signers of the same file sign with the same key."""
    assert not signer.exists
    first = signer.public_key(create=True)
    assert stat.S_IMODE(signer.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(signer.path.parent.stat().st_mode) == 0o700
    assert AuditSigner(signer.path).public_key() == first


def test_a_key_file_that_others_can_read_is_refused_with_the_fix(signer: AuditSigner) -> None:
    """Tests that a signing key file readable by its group or others is refused, naming the
    file and the chmod that fixes it, like the vault key."""
    signer.public_key(create=True)
    signer.path.chmod(0o640)
    with pytest.raises(AnchorError, match=r"readable by others; run: chmod 600 .*audit-signing"):
        AuditSigner(signer.path)


def test_a_missing_key_is_not_made_unless_asked(signer: AuditSigner) -> None:
    """Tests that reading the public key of a signer whose file does not exist refuses instead
    of silently making a new key."""
    with pytest.raises(AnchorError, match="there is no audit signing key at"):
        signer.public_key()
    assert not signer.path.exists()


def test_a_key_file_that_is_not_an_ed25519_key_is_refused(tmp_path: Path) -> None:
    """Tests that a key file holding junk, or a key of another kind, is refused with a sentence
    that names the file and never shows what the file holds."""
    junk = tmp_path / "junk.key"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    junk.chmod(0o600)
    with pytest.raises(AnchorError, match="does not hold an unencrypted PEM private key") as info:
        AuditSigner(junk).public_key()
    assert "bm90IGEga2V5" not in str(info.value)

    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    other = tmp_path / "ec.key"
    pem = generate_private_key(SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    other.write_bytes(pem)
    other.chmod(0o600)
    with pytest.raises(AnchorError, match="not Ed25519"):
        AuditSigner(other).public_key()


def test_the_private_key_never_shows_in_a_repr(signer: AuditSigner) -> None:
    """Tests that a signer's repr and str show the key file's path only, never the key."""
    signer.public_key(create=True)
    pem = signer.path.read_text()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    for text in (repr(signer), str(signer)):
        assert body not in text
        assert "PRIVATE" not in text
        assert str(signer.path) in text
    assert not hasattr(signer, "__dict__")


def test_the_key_file_comes_from_the_environment_or_the_home(tmp_path: Path) -> None:
    """Tests that ``$OUTCOMES_AUDIT_KEY_FILE`` names the signing key file when set, and that it
    is ``<home>/keys/audit-signing.key`` otherwise, apart from the vault key."""
    home = Home(tmp_path / "home")
    assert audit_signer(home, {}).path == signing_key_file(home) == home.keys / "audit-signing.key"
    assert signing_key_file(home) != home.vault_key_file
    elsewhere = tmp_path / "token" / "signing.key"
    assert audit_signer(home, {KEY_FILE_ENV: str(elsewhere)}).path == elsewhere


def test_the_signer_imports_a_key_written_by_another_tool(tmp_path: Path) -> None:
    """Tests that an Ed25519 key made elsewhere (PKCS#8 PEM, as `openssl genpkey -algorithm
    ed25519` writes it) is used as it is, so a key can be made and kept apart from the hub."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "made-elsewhere.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    expected = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert AuditSigner(path).public_key() == expected.hex()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ({"seq": 0, "hash": HASH, "signed_at": "2026-07-01T09:30:00+00:00"}, "1 or more, got 0"),
        ({"seq": "x", "hash": HASH, "signed_at": "2026-07-01"}, "whole number, got 'x'"),
        ({"seq": 1, "hash": "ABC", "signed_at": "2026-07-01"}, "64 lowercase hex digits"),
        ({"seq": 1, "hash": HASH, "signed_at": "yesterday"}, "ISO 8601 time, got 'yesterday'"),
        ({"seq": 1, "hash": HASH}, "the anchor lacks signed_at"),
        (
            {"seq": 1, "hash": HASH, "signed_at": "2026-07-01", "reason": "whim"},
            "reason must be one of entries, time, publication, got 'whim'",
        ),
        (
            {"seq": 1, "hash": HASH, "signed_at": "2026-07-01", "signature": "ab" * 64},
            "needs both its signature and its public key",
        ),
    ],
)
def test_an_anchor_that_is_not_one_is_refused_precisely(
    record: dict[str, object], error: str
) -> None:
    """Tests that a malformed anchor (from a file someone hands in) is refused with a message
    that says which field is wrong and how."""
    with pytest.raises(AnchorError, match=error):
        Anchor.from_record(record)
