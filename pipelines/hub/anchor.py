"""Signed audit heads: the audit chain's newest entry, signed with a key the vault does not hold.

The hash chain of :mod:`pipelines.hub.audit` shows an edited entry only to someone
who trusts the newest hash, and whoever runs the hub can recompute every later
hash. A head signed with Ed25519 and handed to outsiders (published, exported,
printed on the site) fixes a point of the history: rewriting or cutting the log
before it no longer matches what the outsider holds, and no one without the
signing key can sign a replacement. The key is not the vault key and lives in a
file of its own, so it can be kept apart from the hub
(docs/decisions/012-signed-audit-anchors.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipelines.home import Home, private_dir

KEY_FILE_ENV = "OUTCOMES_AUDIT_KEY_FILE"
PURPOSE = "outcome-hub/audit-head/v1"
"""Signed with every head, so a signature made for anything else never passes for one."""
FINGERPRINT_CHARS = 16

Reason = Literal["entries", "time", "publication"]
"""Why a head was signed: the log grew by the set number of entries, the set time passed, or a
publication."""
REASONS: tuple[Reason, ...] = get_args(Reason)
_HASH = re.compile(r"^[0-9a-f]{64}$")


class AnchorError(Exception):
    """A signing key or a signed head cannot be used; the message says what to do."""


def signed_time(moment: datetime) -> str:
    """A moment as the text that is signed: ISO 8601 in UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def message(seq: int, hash: str, signed_at: str) -> bytes:
    """The exact bytes signed for a head: canonical JSON of purpose, seq, hash and time.

    Anyone can rebuild them from a published anchor and check its signature with any
    Ed25519 tool, without the hub's code.
    """
    body = {"purpose": PURPOSE, "seq": seq, "hash": hash, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(public_key: str) -> str:
    """A short name for a public key: the first hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(_decode(public_key, "public key", 32)).hexdigest()[:FINGERPRINT_CHARS]


def _decode(text: str, what: str, size: int) -> bytes:
    # Hex, not base64: nothing a spreadsheet would run, nothing a CSV export would alter.
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise AnchorError(f"the {what} is not hexadecimal") from None
    if len(data) != size:
        raise AnchorError(
            f"the {what} must be {size} bytes ({2 * size} hex digits), got {len(data)}"
        )
    return data


@dataclass(frozen=True)
class Anchor:
    """The audit chain's head at one moment, as handed to outsiders.

    ``signature`` and ``public_key`` are both set for a signed head; both are empty for
    a head published by a hub without a signing key, which proves nothing.
    """

    seq: int
    hash: str
    signed_at: str
    """Exactly the text that was signed (see :func:`signed_time`)."""
    signature: str | None = None
    public_key: str | None = None
    reason: Reason = "publication"

    def __post_init__(self) -> None:
        if self.seq < 1:
            raise AnchorError(f"an anchored entry's number must be 1 or more, got {self.seq}")
        if not _HASH.match(self.hash):
            raise AnchorError("an anchored hash must be 64 lowercase hex digits")
        try:
            datetime.fromisoformat(self.signed_at)
        except ValueError:
            raise AnchorError(
                f"signed_at must be an ISO 8601 time, got {self.signed_at!r}"
            ) from None
        if self.reason not in REASONS:
            raise AnchorError(f"reason must be one of {', '.join(REASONS)}, got {self.reason!r}")
        if (self.signature is None) != (self.public_key is None):
            raise AnchorError("a signed head needs both its signature and its public key")

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def key_fingerprint(self) -> str | None:
        return fingerprint(self.public_key) if self.public_key is not None else None

    def signature_valid(self) -> bool:
        """Whether the signature verifies under the public key carried with it."""
        if self.signature is None or self.public_key is None:
            return False
        try:
            key = Ed25519PublicKey.from_public_bytes(_decode(self.public_key, "public key", 32))
            key.verify(
                _decode(self.signature, "signature", 64),
                message(self.seq, self.hash, self.signed_at),
            )
        except (AnchorError, InvalidSignature, ValueError):
            return False
        return True

    def provenance(self) -> str:
        """``signed 2026-07-01 09:30 UTC by key ab12…``, for messages."""
        when = datetime.fromisoformat(self.signed_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if not self.signed:
            return f"recorded {when}, unsigned"
        return f"signed {when} by key {self.key_fingerprint}"

    def as_record(self) -> dict[str, Any]:
        """The columns of a published anchor (and the fields of the exported file)."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "signed_at": self.signed_at,
            "reason": self.reason,
            "signature": self.signature,
            "public_key": self.public_key,
            "key_fingerprint": self.key_fingerprint,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Anchor:
        """An anchor from a published row or a saved file; a precise error if it is not one."""
        missing = [k for k in ("seq", "hash", "signed_at") if record.get(k) in (None, "")]
        if missing:
            raise AnchorError(f"the anchor lacks {', '.join(missing)}")
        try:
            seq = int(record["seq"])
        except (TypeError, ValueError):
            raise AnchorError(
                f"the anchor's seq must be a whole number, got {record['seq']!r}"
            ) from None
        return cls(
            seq=seq,
            hash=str(record["hash"]),
            signed_at=str(record["signed_at"]),
            signature=_optional(record.get("signature")),
            public_key=_optional(record.get("public_key")),
            reason=str(record.get("reason") or "publication"),  # type: ignore[arg-type]
        )


def _optional(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # missing in a frame
        return None
    text = str(value)
    return text or None


def signing_key_file(home: Home) -> Path:
    """Where the signing key lives unless ``$OUTCOMES_AUDIT_KEY_FILE`` names another file."""
    return home.keys / "audit-signing.key"


class AuditSigner:
    """The Ed25519 key that signs audit heads, read from one owner-only file on first use.

    The private key never shows in a repr, a message or a traceback: only the path and
    the public key's fingerprint do.
    """

    __slots__ = ("_key", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: Ed25519PrivateKey | None = None
        if path.exists():
            _check_private(path)

    def __repr__(self) -> str:
        return f"AuditSigner({str(self.path)!r})"

    __str__ = __repr__

    @property
    def exists(self) -> bool:
        return self._key is not None or self.path.exists()

    def _load(self, *, create: bool) -> Ed25519PrivateKey:
        if self._key is not None:
            return self._key
        if not self.path.exists():
            if not create:
                raise AnchorError(f"there is no audit signing key at {self.path}")
            _create(self.path)
        _check_private(self.path)
        self._key = _read(self.path)
        return self._key

    def public_key(self, *, create: bool = False) -> str:
        """The public key, hex of its 32 bytes (the key file is made if ``create``)."""
        raw = (
            self._load(create=create)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return raw.hex()

    def sign(
        self, seq: int, hash: str, at: datetime, reason: Reason, *, create: bool = True
    ) -> Anchor:
        """The head (``seq``, ``hash``) signed at ``at``."""
        key = self._load(create=create)
        signed_at = signed_time(at)
        signature = key.sign(message(seq, hash, signed_at))
        return Anchor(seq, hash, signed_at, signature.hex(), self.public_key(), reason)


def audit_signer(home: Home, environ: Mapping[str, str] | None = None) -> AuditSigner:
    """The signer of ``$OUTCOMES_AUDIT_KEY_FILE``, else of ``<home>/keys/audit-signing.key``.

    Refuses a key file that others can read. A missing file is created on first use.
    """
    env = os.environ if environ is None else environ
    path = Path(env[KEY_FILE_ENV]).expanduser() if env.get(KEY_FILE_ENV) else signing_key_file(home)
    return AuditSigner(path)


def _check_private(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        raise AnchorError(
            f"the audit signing key file {path} is readable by others; run: chmod 600 {path}"
        )


def _create(path: Path) -> None:
    if not path.parent.exists():
        private_dir(path.parent)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _read(path: Path) -> Ed25519PrivateKey:
    # Nothing read from the file is kept in a name a traceback could show, nor chained.
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AnchorError(
            f"the audit signing key file {path} does not hold an unencrypted PEM private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"the audit signing key file {path} holds a key that is not Ed25519")
    return key
