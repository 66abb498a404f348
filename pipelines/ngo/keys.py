"""The NGO's secret pseudonymisation key: created on first use, owner-only, never sent anywhere.

The same key gives a client the same pseudonym every quarter, which is what
lets the hub follow outcomes over time. A lost key cannot be recovered: the
next file is pseudonymised under a new key, so its clients look like new
clients. :func:`export_key` and :func:`import_key` move the key to a new
computer through a file the user names, owner-only.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from pipelines.ngo.folder import NgoHome

KEY_FILE = "secret.key"
_EXPORT_HEADER = "# Outcome Hub: the pseudonymisation key of one NGO. Keep it secret.\n"
_MAX_KEY_FILE = 4096


class UnsafeKeyError(Exception):
    """The NGO's key file is unsafe, unreadable or not a key; the message says what to do."""


@dataclass(frozen=True)
class NgoKey:
    """The NGO's 32-byte key, where it lives, and whether this call created it."""

    key: bytes
    path: Path
    created: bool

    def __repr__(self) -> str:  # the key never shows itself in a log or a traceback
        return f"NgoKey(path={self.path!r}, created={self.created})"


def ngo_key(ngo_home: NgoHome, ngo_id: str) -> NgoKey:
    """The NGO's key, created (mode 0600 in a 0700 folder) on first use."""
    ngo_home.prepare(ngo_id)
    path = ngo_home.key_file(ngo_id)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return NgoKey(_read_key(path), path, created=False)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return NgoKey(_read_key(path), path, created=True)


def _owner_only(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UnsafeKeyError(
            f"{path} can be read by other users (mode {mode:o}); restrict it with: chmod 600 {path}"
        )


def _parse(text: str, path: Path) -> tuple[str | None, bytes]:
    """(the NGO the file names, or None for a bare key; the key) of a key file's text."""
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    words = lines[0].split() if len(lines) == 1 else []
    try:
        key = bytes.fromhex(words[-1]) if words and len(words) <= 2 else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UnsafeKeyError(f"{path} is not a key written by this tool; restore it from backup")
    return (words[0] if len(words) == 2 else None), key


def _read_key(path: Path) -> bytes:
    _owner_only(path)
    if path.stat().st_size > _MAX_KEY_FILE:
        raise UnsafeKeyError(f"{path} is not a key written by this tool; restore it from backup")
    return _parse(path.read_text(encoding="utf-8"), path)[1]


def export_key(ngo_home: NgoHome, ngo_id: str, out: Path) -> Path:
    """Write the NGO's key to ``out`` (a new file, owner-only) to carry it to another computer."""
    path = ngo_home.key_file(ngo_id)
    if not path.exists():
        raise UnsafeKeyError(
            f"{ngo_id} has no key in {ngo_home.root} yet: it is made by the first `submit`."
        )
    key = _read_key(path)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UnsafeKeyError(
            f"{out} already exists; name a new file to export the key to"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_EXPORT_HEADER + f"{ngo_id} {key.hex()}\n")
    return out


def import_key(ngo_home: NgoHome, ngo_id: str, source: Path) -> tuple[Path, bool]:
    """Install the key in ``source`` as the NGO's key; return (its path, whether it was new).

    Refuses a file others can read, a file naming another NGO, and a different key
    already in place: replacing a key gives every client a new pseudonym.
    """
    if not source.is_file():
        raise UnsafeKeyError(f"there is no key file at {source}")
    name, key = _parse(source.read_text(encoding="utf-8")[:_MAX_KEY_FILE], source)
    _owner_only(source)
    if name is not None and name != ngo_id:
        raise UnsafeKeyError(f"{source} holds the key of {name}, not of {ngo_id}")
    path = ngo_home.key_file(ngo_id)
    if path.exists():
        if secrets.compare_digest(_read_key(path), key):
            return path, False
        raise UnsafeKeyError(
            f"{ngo_id} already has a different key at {path}. Replacing it would give every "
            "client a new pseudonym; move that file away yourself if that is really meant."
        )
    ngo_home.prepare(ngo_id)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path, True
