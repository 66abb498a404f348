"""Site builds: two at once both succeed, and the site is swapped in whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_dashboards_zone import fabricate_zone

from dashboards.site import MARKER, _exchange, _swap
from pipelines.home import Home

OUTCOMES = str(Path(sys.executable).parent / "outcomes")

BUILD = """
import sys
from pathlib import Path
from dashboards import build_site
report = build_site(Path(sys.argv[1]), Path(sys.argv[2]))
print(len(report.pages))
"""


def test_two_builds_at_once_both_succeed_and_leave_one_whole_site(tmp_path: Path) -> None:
    """Tests that two site builds started together (separate processes, the same folder) both
    exit 0, that the site left is whole (its marker and every page), and that no staging
    folder of either build is left behind."""
    zone = fabricate_zone(tmp_path / "published.duckdb", ngos=3, periods=("2025-Q3",))
    out = tmp_path / "site"
    builds = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(zone), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [b.communicate(timeout=300) for b in builds]
    assert [b.returncode for b in builds] == [0, 0], [err[-2000:] for _, err in results]
    pages = {int(o.strip()) for o, _ in results}
    assert len(pages) == 1
    assert (out / MARKER).is_file()
    assert (out / "index.html").is_file()
    assert len(list(out.rglob("*.html"))) >= pages.pop()
    leftovers = [p for p in (tmp_path / ".site.building").iterdir() if p.is_dir()]
    assert leftovers == []


def test_a_swap_exchanges_the_old_site_for_the_new_in_one_step(tmp_path: Path) -> None:
    """Tests that the swap puts the new site where the old one was and removes the old one;
    on Linux the two folders are exchanged atomically (renameat2)."""
    out, staging = tmp_path / "site", tmp_path / "staging"
    for folder, text in ((out, "old"), (staging, "new")):
        folder.mkdir()
        (folder / "index.html").write_text(text)
    _swap(staging, out)
    assert (out / "index.html").read_text() == "new"
    assert not staging.exists()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    if sys.platform.startswith("linux"):
        assert _exchange(a, b)
        assert (b / "x").read_text() == "a"


@pytest.mark.slow
def test_a_site_build_stopped_by_sigterm_leaves_the_previous_site_whole(tmp_path: Path) -> None:
    """Tests that SIGTERM while `outcomes site` writes its pages stops it within 5 seconds
    with exit code 130, that the previous site is exactly as it was, and that the build's
    staging folder is gone."""
    home = Home(tmp_path / "home")
    fabricate_zone(home.published_db, ngos=400, periods=("2025-Q2", "2025-Q3"))
    (home.root / "hub").mkdir()
    (home.root / "hub" / "vault.duckdb").touch()  # a hub home, as far as the command can tell
    first = subprocess.run(
        [OUTCOMES, "site", "--home", str(home.root)], capture_output=True, check=False
    )
    assert first.returncode == 0, first.stdout.decode()[-2000:]
    before = {p: p.stat().st_mtime_ns for p in home.site.rglob("*")}
    staging = home.root / ".site.building"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTCOMES_PAUSE")}
    proc = subprocess.Popen(
        [OUTCOMES, "site", "--home", str(home.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not any(p.is_dir() for p in staging.glob("build-*")):
        assert proc.poll() is None, "the build ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output.decode()[-2000:]
    assert time.monotonic() - sent < 5.0
    assert {p: p.stat().st_mtime_ns for p in home.site.rglob("*")} == before
    assert not any(p.is_dir() for p in staging.iterdir())
