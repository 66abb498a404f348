"""Test seams for power cuts and signals, off unless a test sets their environment variable.

``OUTCOMES_CRASH_AT=<name>`` kills the process at that point (SIGKILL, as a power
cut would); ``OUTCOMES_PAUSE_AT=<name>`` holds it there for a minute, after
touching the file named by ``OUTCOMES_PAUSE_FILE``, so a test can send Ctrl-C or
SIGTERM at a known moment. Crash and interrupt tests prove that a release, an
intake, a publication or a site build stopped at a named point loses no budget
and leaves nothing half-written.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PAUSE_SECONDS = 60.0


def crashpoint(name: str) -> None:
    """Kill this process with SIGKILL here when ``OUTCOMES_CRASH_AT`` names this point."""
    if os.environ.get("OUTCOMES_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def pausepoint(name: str) -> None:
    """Hold this process here (interruptibly) when ``OUTCOMES_PAUSE_AT`` names this point."""
    if os.environ.get("OUTCOMES_PAUSE_AT") != name:
        return
    marker = os.environ.get("OUTCOMES_PAUSE_FILE")
    if marker:
        Path(marker).write_text(name, encoding="utf-8")
    time.sleep(PAUSE_SECONDS)
