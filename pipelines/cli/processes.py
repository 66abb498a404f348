"""Running the hub's long-lived processes together, and stopping every one of them.

``outcomes serve`` runs the API and the Dagster daemon (and, with ``--ui``, the
Dagster webserver); ``outcomes ui`` runs the webserver and the daemon. Each
child gets a process group of its own, so that SIGTERM or Ctrl-C reaches it
and everything it started: the supervisor sends SIGTERM to every group, waits,
then kills what is left, and returns only when nothing of theirs runs. If one
child stops by itself, the others are stopped too and the command fails,
so that a service manager (systemd) restarts the whole hub. If the supervisor
itself is killed, the kernel tells each child (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

GRACE_S = 20.0
"""How long a child has to stop after SIGTERM before it and its group are killed."""
_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Child:
    """A process to run: its name (for messages), command line and environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()
    on_parent_death: int = signal.SIGTERM
    """The signal this child gets if the supervisor dies without stopping it."""


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def arrange() -> None:  # runs in the child, between fork and exec
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return arrange


@dataclass
class Supervisor:
    """Starts children, waits while they all run, and stops them all."""

    children: Sequence[Child]
    say: Callable[[str], None]
    grace_s: float = GRACE_S
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stop: str | None = None

    def _signalled(self, signum: int, _frame: FrameType | None) -> None:
        self._stop = signal.Signals(signum).name

    def run(self, ready: Callable[[], None] | None = None) -> int:
        """Run until SIGTERM, SIGINT or SIGHUP (0) or until a child stops by itself (1)."""
        previous = {
            sig: signal.signal(sig, self._signalled)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        try:
            for child in self.children:
                if self._stop:
                    break
                self.running[child.name] = subprocess.Popen(  # noqa: S603 - our own commands
                    list(child.argv),
                    env=dict(child.env),
                    cwd=child.cwd,
                    pass_fds=child.pass_fds,
                    start_new_session=True,  # its own group: Ctrl-C is ours to pass on
                    preexec_fn=_die_with_parent(child.on_parent_death),  # noqa: PLW1509 - no threads yet
                )
            if ready is not None and not self._stop:
                ready()
            failed = None
            while self._stop is None:
                for name, proc in self.running.items():
                    if proc.poll() is not None:
                        failed = (name, proc.returncode)
                        break
                if failed:
                    break
                time.sleep(_POLL_S)
            if failed:
                name, code = failed
                self.say(f"{name} stopped by itself (exit {code}); stopping the rest of the hub.")
            else:
                self.say(f"Stopping the hub ({self._stop}) …")
            self.stop()
            return 1 if failed else 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """SIGTERM every child's group, wait up to ``grace_s``, SIGKILL whatever is left."""
        for proc in self.running.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for name, proc in self.running.items():
            if proc.poll() is None:
                self.say(f"{name} did not stop within {self.grace_s:.0f} s: killed.")
            _signal_group(proc.pid, signal.SIGKILL)  # and anything of its group still there
            proc.wait()
        self.running.clear()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
