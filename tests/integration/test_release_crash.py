"""A release killed with SIGKILL at any moment: the next run completes, spends once, and leaves
no half-written release anywhere.

``outcomes release`` runs in a subprocess that is killed at each of the release's
crash points (``OUTCOMES_CRASH_AT``, a test seam that sends the process SIGKILL) and at
random moments; the next run is an ordinary ``outcomes release``.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dp_helpers import PERIOD, seed_home, small_sector

from pipelines.home import Home
from pipelines.hub.publish import _release_cells
from pipelines.hub.published_checks import ledger_differences
from pipelines.hub.vault import open_vault
from pipelines.privacy.mechanisms import calibrate
from pipelines.privacy.plan import default_plan
from pipelines.published.store import read_table

OUTCOMES = str(Path(sys.executable).parent / "outcomes")


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _start(home: Home, crash_at: str | None) -> subprocess.Popen[bytes]:
    """``outcomes release`` in its own process; what it prints goes to ``<home>/../release.log``."""
    env = {k: v for k, v in os.environ.items() if k != "OUTCOMES_CRASH_AT"}
    if crash_at:
        env["OUTCOMES_CRASH_AT"] = crash_at
    with _log(home).open("wb") as log:
        return subprocess.Popen(
            [OUTCOMES, "release", "--period", PERIOD, "--yes", "--home", str(home.root)],
            env=env,
            cwd=home.root.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _log(home: Home) -> Path:
    return home.root.parent / "release.log"


def _tail(home: Home) -> str:
    return _log(home).read_text(encoding="utf-8", errors="replace")[-3000:]


def _one_release_worth() -> float:
    """What one release (Māori-data component not approved) charges each NGO at the default."""
    plan = default_plan()
    return sum(
        calibrate(plan.sensitivity(m).l2, plan.share(m) * plan.default_rho).rho
        for m in plan.measures
        for c in plan.components(m)
        if not c.governed
    )


def _assert_whole(home: Home) -> None:
    """The state every completed run must leave, whatever happened before it."""
    with open_vault(home).connect() as con:
        assert ledger_differences(con, home.published_db) == {}
        releases = con.execute(
            "SELECT release_id, period, version, status, plan_text FROM releases"
        ).df()
        assert releases["release_id"].tolist() == [f"{PERIOD}-r1"]
        release = releases.iloc[0].to_dict()
        fresh = _release_cells(con, release)
        parts = con.execute(
            "SELECT p.part_id, p.cells, p.scope, count(c.part_id) AS stored FROM release_parts p "
            "LEFT JOIN release_cells c USING (release_id, part_id) GROUP BY ALL"
        ).df()
        charged = dict(
            con.execute("SELECT part_id, count(*) FROM spends GROUP BY part_id").fetchall()
        )
        spent = dict(con.execute("SELECT ngo_id, sum(rho) FROM spends GROUP BY 1").fetchall())
    # no half-written release: every part has all its cells and all its payers
    assert (parts["cells"] == parts["stored"]).all()
    assert all(
        charged[p] == (2 if s == "pooled" else 1)
        for p, s in zip(parts["part_id"], parts["scope"], strict=True)
    )
    # the published zone holds exactly that release, with all its cells
    published = read_table(home.published_db, "releases")
    assert published["release_id"].tolist() == [f"{PERIOD}-r1"]
    cells = read_table(home.published_db, "cells", "release_id = ?", [f"{PERIOD}-r1"])
    assert len(cells) == len(fresh) > 1000
    exported = (home.exports / "cells.csv").read_text(encoding="utf-8").count("\n") - 1
    assert exported == len(cells)
    # spent once: one release's worth per NGO, no double spend
    assert sorted(spent) == ["ngo-aroha", "ngo-kauri"]
    for value in spent.values():
        assert math.isclose(value, _one_release_worth(), rel_tol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "crash_at", ["after-noise", "after-commit", "before-publish", "after-publish"]
)
def test_a_release_killed_at_each_step_completes_on_the_next_run(
    home: Home, run_cli: Callable[..., Any], crash_at: str
) -> None:
    """Tests that a release killed with SIGKILL after the noise is drawn (before the commit),
    after the commit, before publishing and after publishing (before the exports) completes
    on the next ordinary run with one release, all its cells published, a ledger equal to the
    published spends and exactly one release's worth spent."""
    seed_home(home, *small_sector())
    proc = _start(home, crash_at)
    assert proc.wait(timeout=300) == -signal.SIGKILL, _tail(home)
    with open_vault(home).connect() as con:
        stored = con.execute("SELECT count(*) FROM releases").fetchone()
        spends = con.execute("SELECT count(*) FROM spends").fetchone()
    # the kill happened where it was asked to
    assert stored == ((0,) if crash_at == "after-noise" else (1,))
    assert (spends == (0,)) == (crash_at == "after-noise")
    assert home.published_db.exists() == (crash_at == "after-publish")
    assert not (home.exports / "cells.csv").exists()

    again = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert again.exit_code == 0, again.output
    _assert_whole(home)


@pytest.mark.slow
@pytest.mark.parametrize(
    "window", [(2.0, 4.5), (4.5, 7.0), (7.0, 9.5)], ids=["early", "middle", "late"]
)
def test_a_release_killed_at_a_random_moment_completes_on_the_next_run(
    home: Home, run_cli: Callable[..., Any], window: tuple[float, float]
) -> None:
    """Tests that a release killed with SIGKILL at a random moment leaves a hub whose next
    ordinary run completes with one release, all its cells published, and one release's
    worth spent. A run takes about 3 s to start, 3 s to release and 3 s to publish on a CI
    core, so the delays are drawn at random from early, middle and late thirds of that."""
    seed_home(home, *small_sector())
    delay = random.uniform(*window)
    proc = _start(home, None)
    time.sleep(delay)
    proc.kill()
    proc.wait(timeout=60)
    again = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert again.exit_code == 0, f"killed after {delay:.2f} s, then: {again.output}"
    _assert_whole(home)
