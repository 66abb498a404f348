"""A test seam for power cuts: ``OUTCOMES_CRASH_AT=<name>`` kills the process at that point.

Crash tests set it to prove that a release or a publication interrupted at a
named point loses no budget and leaves nothing half-written.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    """Kill this process with SIGKILL here when ``OUTCOMES_CRASH_AT`` names this point."""
    if os.environ.get("OUTCOMES_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
