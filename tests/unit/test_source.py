"""Every file error is a sentence: nothing there, a folder, a FIFO, a device, a file this account
may not read, a file that vanishes or changes while it is read. None a traceback, none a hang."""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipelines.ngo.folder import NgoHome
from pipelines.ngo.submit import submit
from pipelines.standard.periods import Period
from pipelines.validation.extract import ExtractError, read_extract
from pipelines.validation.source import read_source

CONTENT = b"client_id,episode_id\nC-1,E-1\n"


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    """Fail, rather than hang the suite, if the block blocks (a FIFO open would)."""

    def expire(*_: Any) -> None:
        raise TimeoutError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _refusal(path: Path) -> ExtractError:
    with _within(10), pytest.raises(ExtractError) as info:
        read_extract(path)
    error = info.value
    assert error.rule == "file.readable"
    assert error.fix
    assert error.message.endswith(".")
    assert "Traceback" not in error.message
    assert "Errno" not in error.message  # plain words, not an OSError's repr
    return error


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    """Tests that a path with nothing there says so, with the path."""
    path = tmp_path / "episodes.csv"
    assert _refusal(path).message == f"There is no file at {path}."


def test_a_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    """Tests that a folder given as the extract is refused as a folder, not as a missing file."""
    assert "is a folder, not a file" in _refusal(tmp_path).message


def test_a_fifo_is_refused_at_once_without_blocking(tmp_path: Path) -> None:
    """Tests that a named pipe with no writer is refused as a FIFO immediately, where opening
    it for reading would block forever."""
    path = tmp_path / "episodes.csv"
    os.mkfifo(path)
    assert "is a named pipe (FIFO), not a file" in _refusal(path).message


def test_a_device_is_refused_as_a_device() -> None:
    """Tests that a character device (which never ends, or never starts) is refused by kind."""
    path = Path("/dev/null")
    if not path.exists() or not stat.S_ISCHR(path.stat().st_mode):
        pytest.skip("no /dev/null character device here")
    assert "is a device, not a file" in _refusal(path).message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_a_file_without_read_permission_is_named(tmp_path: Path) -> None:
    """Tests that a file this account may not read is refused in plain words, with a fix."""
    path = tmp_path / "episodes.csv"
    path.write_bytes(CONTENT)
    path.chmod(0)
    assert "this account is not allowed to open it" in _refusal(path).message


def test_permission_denied_on_open_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests the same refusal where the open itself is denied (as for any user but root), so
    the test proves it even when the suite runs as root."""
    path = tmp_path / "episodes.csv"
    path.write_bytes(CONTENT)

    def denied(*_: Any, **__: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    error = _refusal(path)
    assert error.message == "episodes.csv cannot be read: this account is not allowed to open it."


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOENT, "it was moved or deleted while it was being read"),
        (errno.ESTALE, "it was moved or deleted while it was being read"),
        (errno.EIO, "the disk reported: Input/output error"),
    ],
)
def test_a_file_that_fails_while_being_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    """Tests that a read that fails half-way (a network share gone, a bad disk) is a sentence
    saying what happened, not an OSError."""
    path = tmp_path / "episodes.csv"
    path.write_bytes(CONTENT)

    def failing(*_: Any) -> bytes:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "read", failing)
    assert _refusal(path).message == f"episodes.csv could not be read to the end: {words}."


def _after_fstat(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """Run ``then`` once, between the size check on the opened file and the read."""
    real = os.fstat
    pending = [then]

    def fstat(fd: int) -> os.stat_result:
        result = real(fd)
        while pending:
            pending.pop()()
        return result

    monkeypatch.setattr(os, "fstat", fstat)


@pytest.mark.parametrize(("change", "word"), [("shrink", "shrank"), ("grow", "grew")])
def test_a_file_that_changes_while_being_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str, word: str
) -> None:
    """Tests that a file still being written (or cut) while it is read is refused, not read in
    part: what is validated is exactly what was there when it was opened."""
    path = tmp_path / "episodes.csv"
    path.write_bytes(CONTENT)

    def alter() -> None:
        if change == "shrink":
            os.truncate(path, len(CONTENT) // 2)
        else:
            with path.open("ab") as fh:
                fh.write(b"C-2,E-2\n")

    _after_fstat(monkeypatch, alter)
    error = _refusal(path)
    assert error.message == f"episodes.csv changed while it was being read: it {word}."


def test_a_file_deleted_after_it_is_opened_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that a file deleted between its check and its read is still read whole from the
    open descriptor (never half of it)."""
    path = tmp_path / "episodes.csv"
    path.write_bytes(CONTENT)
    _after_fstat(monkeypatch, path.unlink)
    source = read_source(path)
    assert source.data == CONTENT
    assert not path.exists()


def test_submit_refuses_a_fifo_with_a_report_and_no_traceback(
    tmp_path: Path, ngo_home: NgoHome
) -> None:
    """Tests that `submit` on a named pipe returns at once with a refused report naming the
    FIFO, where it used to hash the path first and block (or die with an OSError)."""
    path = tmp_path / "episodes.csv"
    os.mkfifo(path)
    with _within(30):
        outcome = submit(
            path,
            home=ngo_home,
            ngo_id="ngo-0042",
            period=Period.parse("2025-Q3"),
            dataset="episodes",
        )
    assert outcome.status == "refused"
    assert outcome.report is not None
    (failure,) = outcome.report.failures
    assert failure.rule == "file.readable"
    assert "named pipe (FIFO)" in failure.description
    assert outcome.report_dir is not None
    assert (outcome.report_dir / "report.html").is_file()


def test_the_command_line_names_a_file_behind_a_folder_it_may_not_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, submit_cli: Callable[..., Any]
) -> None:
    """Tests that `outcomes submit` on a file inside a folder this account may not open exits 1
    with the sentence and its fix, where checking that the path exists raised a traceback."""
    path = tmp_path / "locked" / "episodes.csv"
    real_exists, real_open = Path.exists, os.open

    def exists(self: Path) -> bool:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_exists(self)

    def open_(file: Any, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    monkeypatch.setattr(os, "open", open_)
    result = submit_cli(path)
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "episodes.csv cannot be read: this account is not allowed to open it." in output
    assert "Traceback" not in output
