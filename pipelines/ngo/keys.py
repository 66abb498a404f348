"""The NGO's secret pseudonymisation key: created on first use, owner-only, never copied."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pipelines.home import Home, private_dir

KEY_FILE = "secret.key"


class UnsafeKeyError(Exception):
    """The NGO's key file exists but is unsafe or unreadable."""


def ngo_key(home: Home, ngo_id: str) -> bytes:
    """Return the NGO's 32-byte key, creating it (mode 0600) on first use."""
    folder = private_dir(home.ngo_dir(ngo_id))
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UnsafeKeyError(
            f"{path} can be read by other users (mode {mode:o}); restrict it with: chmod 600 {path}"
        )
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise UnsafeKeyError(
            f"{path} is not a key written by this tool; restore it from backup"
        ) from None
    if len(key) != 32:
        raise UnsafeKeyError(f"{path} holds a {len(key)}-byte key; expected 32 bytes")
    return key
