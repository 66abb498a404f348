"""Fixtures for the browser tests: a site built by the real path, Debian's Chromium, a static server.

The site is built once per test session (shared by the xdist workers through a
file lock) the way ``make demo`` builds it: a small generated sector is
submitted on the NGO side, delivered through the hub's receiver, taken in and
released by the hub's Dagster jobs, and
the release job's ``funder_site`` asset writes the site. Chromium is the system
package at ``/usr/bin/chromium``, driven by Playwright; a browser is never
downloaded. Without it, every browser test is skipped with a note saying so.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines.home import Home
from pipelines.standard.periods import Period

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PERIODS = ("2025-Q2", "2025-Q3")
"""Two closed quarters, so the report card has a change and the trends have a line."""
NGOS = 3
SEED = 23
MISSING = (
    f"Chromium is not installed at {CHROMIUM}: the browser tests are skipped. "
    "Install Debian's chromium package (or run .ci/run, which does) to run them."
)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium, or a visible skip."""
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        pytest.skip("the playwright package is not installed: install the dev dependencies")
    return CHROMIUM


def _build(root: Path) -> Path:
    """The real path, small: generate, submit (NGO side), deliver through the hub's receiver,
    intake and release (Dagster); the release job's funder_site asset builds the site."""
    from ngo_helpers import hand_in

    from pipelines.assets.runs import run_intake, run_release
    from pipelines.hub.release import propose_and_approve
    from pipelines.hub.vault import open_vault
    from pipelines.ngo.folder import NgoHome
    from pipelines.ngo.submit import submit
    from pipelines.privacy.plan import load_plan
    from pipelines.sample.generate import generate_sector

    home = Home(root / "home")
    ngo_side = NgoHome(root / "ngo-side")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "OUTCOMES_HOME")}
    os.environ.pop("OUTCOMES_HOME", None)
    try:
        for text in PERIODS:
            period = Period.parse(text)
            sector = generate_sector(root / f"extracts-{text}", ngos=NGOS, period=period, seed=SEED)
            for ngo in sector.ngos:
                for dataset, path in (
                    ("episodes", ngo.episodes_path),
                    ("assessments", ngo.assessments_path),
                ):
                    outcome = submit(
                        path,
                        home=ngo_side,
                        ngo_id=ngo.ngo_id,
                        period=period,
                        dataset=dataset,
                        today=date.today(),
                    )
                    assert outcome.status == "accepted", outcome.message
            assert len(hand_in(home, ngo_side)) == 2 * NGOS
            runs = run_intake(home)
            assert runs
            assert all(r.success for r in runs)
            with open_vault(home).connect() as con:
                propose_and_approve(con, load_plan(), text, by="browser tests")
            run_release(home, text, requested_by="browser tests")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert (home.site / "index.html").is_file(), "the release job's funder_site asset built no site"
    return home.site


@pytest.fixture(scope="session")
def site(chromium: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The built site, shared by every xdist worker of this session."""
    if worker_id == "master":
        return _build(tmp_path_factory.mktemp("browser-site"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / "browser-site"
    with FileLock(str(shared) + ".lock"):
        done = shared / "built"
        if not done.exists():
            if shared.exists():
                shutil.rmtree(shared)
            shared.mkdir()
            built = _build(shared)
            done.write_text(str(built))
        return Path(done.read_text())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """A plain static web server on loopback serving the site; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def browser(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium context with a new, empty profile."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
            accept_downloads=False,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass(frozen=True)
class Served:
    """The built site, the base URL of the server serving it, and where screenshots go."""

    site: Path
    server: str
    screenshots: Path


@pytest.fixture(scope="session")
def served(site: Path, server: str, pytestconfig: pytest.Config) -> Served:
    """The site and its server; screenshots go to ``test-artifacts/screenshots/`` (git-ignored)."""
    folder = Path(pytestconfig.rootpath) / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return Served(site, server, folder)
