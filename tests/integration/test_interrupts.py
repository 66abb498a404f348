"""Long commands stop within moments of SIGTERM (or Ctrl-C), leaving nothing half-done.

Each command runs as its own process and is held at a known point by a test seam
(``OUTCOMES_PAUSE_AT``, which touches ``OUTCOMES_PAUSE_FILE`` and waits there), or caught
mid-build; the test sends SIGTERM, then checks that the process ended within
``PROMPT`` seconds with the "stopped" exit code and that what it was writing is either
whole or absent. The next ordinary run then finishes the work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from dp_helpers import PERIOD, seed_home, small_sector, snapshot
from ngo_helpers import hand_in

from pipelines.home import Home
from pipelines.hub.inbox import pending_ids
from pipelines.hub.vault import open_vault
from pipelines.hub.vault.checks import row_count_mismatches
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.submit import submit
from pipelines.sample.generate import generate_sector
from pipelines.standard.periods import Period

pytestmark = pytest.mark.slow

OUTCOMES = str(Path(sys.executable).parent / "outcomes")
PROMPT = 5.0
"""Seconds a command may take to stop after SIGTERM."""
STOPPED = 130


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def stop_at(
    args: list[str], tmp_path: Path, ready: Callable[[], bool], pause_at: str | None = None
) -> tuple[int, float, str]:
    """Run ``outcomes ARGS``; once ``ready()``, send SIGTERM. (exit code, seconds to stop, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTCOMES_PAUSE")}
    if pause_at:
        env |= {"OUTCOMES_PAUSE_AT": pause_at, "OUTCOMES_PAUSE_FILE": str(tmp_path / "paused")}
    log = tmp_path / "command.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([OUTCOMES, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 240
        while not ready():
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the command never reached the point to stop it"
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
    return code, time.monotonic() - sent, log.read_text(errors="replace")


def _paused(tmp_path: Path) -> Callable[[], bool]:
    return (tmp_path / "paused").exists


def test_an_intake_stopped_by_sigterm_commits_nothing_half_done(tmp_path: Path) -> None:
    """Tests that SIGTERM while intake validates its first chunk stops it within PROMPT
    seconds with exit code 130 and a message, makes nothing current, leaves every submission
    in the inbox, and leaves no half-staged submission; the next intake takes them all in."""
    home = Home(tmp_path / "home")
    ngo_home = NgoHome(tmp_path / "ngos")
    sector = generate_sector(tmp_path / "extracts", ngos=4, period=Period.parse(PERIOD), seed=5)
    for ngo in sector.ngos:
        for dataset, path in (
            ("episodes", ngo.episodes_path),
            ("assessments", ngo.assessments_path),
        ):
            outcome = submit(
                path, home=ngo_home, ngo_id=ngo.ngo_id, period=Period.parse(PERIOD),
                dataset=dataset, today=date(2025, 10, 15),
            )  # fmt: skip
            assert outcome.status == "accepted", outcome.message
    hand_in(home, ngo_home)
    waiting = pending_ids(home)

    code, seconds, output = stop_at(
        ["intake", "--home", str(home.root)], tmp_path, _paused(tmp_path), "intake-validated"
    )

    assert code == STOPPED, output
    assert seconds < PROMPT
    assert "Stopped." in output
    assert pending_ids(home) == waiting
    with open_vault(home).connect() as con:
        statuses = dict(
            con.execute("SELECT status, count(*) FROM submissions GROUP BY 1").fetchall()
        )
        assert "accepted" not in statuses
        assert row_count_mismatches(con) == {}
    again = subprocess.run(
        [OUTCOMES, "intake", "--home", str(home.root)], capture_output=True, check=False
    )
    assert again.returncode == 0, again.stdout.decode()[-2000:]
    assert pending_ids(home) == []


def test_a_release_stopped_by_sigterm_spends_nothing(tmp_path: Path) -> None:
    """Tests that SIGTERM after the noise is drawn but before the release commits stops
    `outcomes release` within PROMPT seconds with exit code 130, and that the vault holds no
    release, no cell and no spend; the next release spends once."""
    home = Home(tmp_path / "home")
    seed_home(home, *small_sector())
    with open_vault(home).connect() as con:
        before = dict(snapshot(con))

    code, seconds, output = stop_at(
        ["release", "--period", PERIOD, "--yes", "--home", str(home.root)],
        tmp_path,
        _paused(tmp_path),
        "after-noise",
    )

    assert code == STOPPED, output
    assert seconds < PROMPT
    with open_vault(home).connect() as con:
        assert dict(snapshot(con)) == before
    again = subprocess.run(
        [OUTCOMES, "release", "--period", PERIOD, "--yes", "--home", str(home.root)],
        capture_output=True,
        check=False,
    )
    assert again.returncode == 0, again.stdout.decode()[-2000:]
    with open_vault(home).connect() as con:
        assert con.execute("SELECT count(DISTINCT release_id) FROM spends").fetchone() == (1,)


def test_the_benchmark_stopped_by_sigterm_stops_its_processes_too(tmp_path: Path) -> None:
    """Tests that SIGTERM to `python -m bench.run` while it generates its sector stops it
    within PROMPT seconds with exit code 130, that none of its child processes is left
    running, and that no results file is written."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "bench"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--ngos", "30", "--quick", "--out", str(out)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: what is left of it can be found
    )
    deadline = time.monotonic() + 120
    while not (out / "data").exists():
        assert proc.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the generator is running as a child process by now
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == STOPPED, output.decode()[-2000:]
    assert time.monotonic() - sent < PROMPT
    left = True
    for _ in range(40):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            left = False
            break
        time.sleep(0.05)
    assert not left, "a child process of the benchmark outlived it"
    assert not (out / "results.json").exists()
