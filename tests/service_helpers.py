"""A real hub service for tests: ``outcomes serve`` in a subprocess on a free loopback port.

Tests that cross the network do it for real: the service runs in its own process
group (as in production), the client is httpx or the ``outcomes`` command line, and
stopping it is SIGTERM (or SIGKILL, for the tests of a hard stop).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipelines.home import Home
from pipelines.hub.desk import register
from pipelines.hub.desk.store import opened

OUTCOMES = str(Path(sys.executable).with_name("outcomes"))
_LISTENING = re.compile(r"on (https?://[^\s]+:\d+)")


def register_ngo(home: Home, ngo_id: str, folder: Path) -> Path:
    """Register ``ngo_id`` (if it is not yet) with a new token; write the token to a file only
    its owner can read, in ``folder``; return the file."""
    home.create()
    with opened(home) as desk:
        if register.get(desk, ngo_id) is None:
            token = register.register(desk, ngo_id=ngo_id, name=f"Trust {ngo_id}", actor="tests")
        else:
            token = register.rotate_token(desk, ngo_id=ngo_id, actor="tests")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ngo_id}.token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return path


@dataclass
class HubProcess:
    """A running ``outcomes serve``: its home, base URL, process and log."""

    home: Home
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    ca_file: Path | None = None
    stopped: bool = field(default=False)

    def token_file(self, ngo_id: str) -> Path:
        return register_ngo(self.home, ngo_id, self.log.parent / "tokens")

    def client(self, token_file: Path | None = None, **kwargs: object) -> httpx.Client:
        headers = {}
        if token_file is not None:
            headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
        verify: object = str(self.ca_file) if self.ca_file else True
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, verify=verify, **kwargs)  # type: ignore[arg-type]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.stopped = True
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash or the power going: nothing of the service gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the supervisor and its API child
        self.proc.wait(timeout=30)
        _wait_closed(self.url)
        self.stopped = True


def _wait_closed(url: str, timeout: float = 30) -> None:
    """Until nothing answers at ``url`` any more (the API process is gone too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=1, verify=False)  # noqa: S501 - loopback, liveness only
        except httpx.TransportError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the hub at {url} still answers")


def start_hub(
    home: Home,
    workdir: Path,
    *args: str | Path,
    ca_file: Path | None = None,
    timeout: float = 90,
) -> HubProcess:
    """Start ``outcomes serve --home HOME --port 0 --no-daemon ARGS…`` and wait until /healthz
    answers; the supervisor gets a process group of its own, so the test can kill it whole."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"serve-{time.monotonic_ns()}.log"
    argv: Sequence[str] = [OUTCOMES, "serve", "--home", str(home.root), "--port", "0"]
    if "--with-daemon" not in args:
        argv = [*argv, "--no-daemon"]
    argv = [*argv, *(str(a) for a in args if a != "--with-daemon")]
    env = {**os.environ, "COLUMNS": "200"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"outcomes serve stopped at once:\n{log.read_text()}")
        found = _LISTENING.search(log.read_text(encoding="utf-8", errors="replace"))
        if found:
            url = found.group(1)
            try:
                verify: object = str(ca_file) if ca_file else True
                if httpx.get(f"{url}/healthz", timeout=2, verify=verify).status_code == 200:  # type: ignore[arg-type]
                    return HubProcess(home, url, proc, log, ca_file)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"outcomes serve did not answer in {timeout} s:\n{log.read_text()}")
