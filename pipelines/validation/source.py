"""Open the file someone named, safely, and read it whole once, or say in a sentence why not.

A path can name anything: nothing at all, a folder, a named pipe (FIFO) that
would block a reader forever, a device that never ends, a file this account
may not read, or a file on a network share that disappears half-way. Each
gets an :class:`ExtractError` in plain words with a fix, never a traceback and
never a hang: the file is opened without blocking, checked to be a regular
file on the opened descriptor (so it cannot be swapped between check and
read), held to the size limit before a byte is read, and read exactly to the
size it had when opened. The bytes read are then hashed and parsed from
memory, so what is hashed is what is validated.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.standard import limits
from pipelines.standard.limits import Limit


class ExtractError(Exception):
    """The file cannot be read as a table. ``rule`` names what is wrong; ``fix`` says what to do.

    ``limit`` is set when the file is refused for exceeding one of
    :mod:`pipelines.standard.limits`; the message names it. No message ever
    holds a value from the file.
    """

    def __init__(
        self,
        rule: str,
        message: str,
        fix: str,
        rows: tuple[int, ...] = (),
        limit: Limit | None = None,
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.fix = fix
        self.rows = rows
        self.limit = limit


LIMIT_FIX = (
    "Check that the file holds one NGO's quarter of one dataset only. "
    "If yours is genuinely larger, contact the hub's stewards."
)

CELL_FIX = (
    "Keep free text (such as case notes) out of the extract: "
    "the standard's text columns hold at most 64 characters."
)


def over_limit(limit: Limit, message: str, fix: str = LIMIT_FIX) -> ExtractError:
    """The refusal of a file that exceeds ``limit``; ``message`` says by how much, this names it."""
    return ExtractError("file.size", f"{message}, over {limit}.", fix, limit=limit)


@dataclass(frozen=True)
class Source:
    """A file read whole: its name (for messages) and its bytes (never in its repr, so never in
    a log line or a test failure)."""

    name: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_file_size(name: str, size: int, limit: Limit | None = None) -> None:
    """Refuse a file over ``limit`` (``file_bytes`` unless told): checked before it is read."""
    limit = limit or limits.FILE_BYTES
    if size > limit.value:
        raise over_limit(limit, f"{name} is {limit.measure(size)}")


def _unreadable(message: str, fix: str) -> ExtractError:
    return ExtractError("file.readable", message, fix)


_NOT_A_FILE = {
    stat.S_IFDIR: ("a folder", "Give the path of the extract file inside the folder."),
    stat.S_IFIFO: (
        "a named pipe (FIFO)",
        "Save the extract as a file (CSV UTF-8, XLSX or Parquet) and submit that file.",
    ),
    stat.S_IFCHR: (
        "a device",
        "Save the extract as a file (CSV UTF-8, XLSX or Parquet) and submit that file.",
    ),
    stat.S_IFBLK: (
        "a disk device",
        "Save the extract as a file (CSV UTF-8, XLSX or Parquet) and submit that file.",
    ),
    stat.S_IFSOCK: (
        "a socket",
        "Save the extract as a file (CSV UTF-8, XLSX or Parquet) and submit that file.",
    ),
}
_COPY_IT = "Copy the file to a folder on this computer that you can open, and submit the copy."


def _open_error(path: Path, exc: OSError) -> ExtractError:
    if isinstance(exc, FileNotFoundError):
        return _unreadable(f"There is no file at {path}.", "Check the file name and folder.")
    if isinstance(exc, PermissionError):
        return _unreadable(
            f"{path.name} cannot be read: this account is not allowed to open it.", _COPY_IT
        )
    if exc.errno == errno.ENXIO:  # a socket, or a device with nothing behind it
        return _unreadable(
            f"{path} is a socket or device, not a file.", _NOT_A_FILE[stat.S_IFCHR][1]
        )
    if exc.errno == errno.ELOOP:
        return _unreadable(
            f"{path} is a symbolic link, not a file.", "Give the path of the file itself."
        )
    if exc.errno == errno.ENOTDIR:
        return _unreadable(
            f"There is no file at {path}: part of the path is a file, not a folder.",
            "Check the file name and folder.",
        )
    return _unreadable(f"{path} cannot be opened ({os.strerror(exc.errno or 0)}).", _COPY_IT)


def _kind(mode: int) -> int:
    return stat.S_IFMT(mode)


def read_source(path: Path, *, limit: Limit | None = None, follow_symlinks: bool = True) -> Source:
    """Read the regular file at ``path`` whole, or raise :class:`ExtractError` saying why not.

    ``limit`` bounds its size (``file_bytes`` unless told: the hub reads a manifest with
    ``manifest_bytes``); a file over it is refused before a byte is read. The hub reads its
    inbox with ``follow_symlinks=False``: a link there was not put there by the hub.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what, fix = _NOT_A_FILE.get(_kind(info.st_mode), ("not a regular file", _COPY_IT))
            raise _unreadable(f"{path} is {what}, not a file.", fix)
        check_file_size(path.name, info.st_size, limit)
        data = _read_exactly(fd, info.st_size, path)
    finally:
        os.close(fd)
    return Source(path.name, data)


def _read_exactly(fd: int, size: int, path: Path) -> bytes:
    """The file's ``size`` bytes; refuses a file that shrinks, grows or fails while being read."""
    os.set_blocking(fd, True)
    chunks: list[bytes] = []
    left = size + 1  # one byte more than it had: a file still being written shows it
    try:
        while left > 0:
            block = os.read(fd, left)  # a regular file usually gives all of it at once
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    except OSError as exc:
        vanished = exc.errno in (errno.ENOENT, errno.ESTALE, errno.ENODEV)
        reason = (
            "it was moved or deleted while it was being read"
            if vanished
            else f"the disk reported: {os.strerror(exc.errno or 0)}"
        )
        raise _unreadable(
            f"{path.name} could not be read to the end: {reason}.", _COPY_IT
        ) from None
    data = b"".join(chunks)  # one chunk is returned as it is, not copied
    if len(data) != size:
        change = "grew" if len(data) > size else "shrank"
        raise _unreadable(
            f"{path.name} changed while it was being read: it {change}.",
            "Wait until the program writing the file has finished, then submit it again.",
        )
    return data
