"""Build the static site from the published zone: every page, plotly.js once, the CSV downloads.

One Jinja environment (autoescaping on) renders every page; the zone is read
once. Builds take the site's lock, so two at once run one after the other; each
writes into a staging folder of its own beside ``out`` and swaps it in whole,
in one step where the file system allows, so a web server never serves half a
site. Links are relative, so the
site works opened from ``file://`` as well as from any static server, and it
makes no network request: plotly.js is the installed package's own copy.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2

from dashboards.charts import Downloads
from dashboards.methods import AFFECTED, methods_box
from dashboards.page import Page
from dashboards.pages import (
    activity,
    equity,
    methodology,
    ngos,
    outcomes,
    periods,
    report_card,
    steward,
    trends,
)
from dashboards.zone import Zone, load_zone

MARKER = ".outcome-hub-site"
ASSETS = Path(__file__).parent / "assets"
PAGE_BUDGET = 300_000
"""Each page stays under this many bytes; only the shared plotly.js is larger."""
WRITERS = 4
"""Threads that create the site's files while pages render."""

NAV = (
    ("index.html", "index", "Report card"),
    ("programmes.html", "programmes", "Programmes"),
    ("regions.html", "regions", "Regions"),
    ("outcomes.html", "outcomes", "Outcomes"),
    ("equity.html", "equity", "Equity"),
    ("trends.html", "trends", "Trends"),
    ("ngos.html", "ngos", "NGOs"),
    ("steward.html", "steward", "Steward"),
    ("methodology.html", "methodology", "Methodology"),
)

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' file:",
        "style-src 'self' file: 'unsafe-inline'",  # plotly.js styles its charts inline
        "img-src 'self' file: data: blob:",
        "font-src 'self' file: data:",
        "connect-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
"""The page may load its own scripts, styles and images, and nothing from anywhere else."""


class SiteError(Exception):
    """The site cannot be built where it was asked to be; the message says what to do."""


@dataclass(frozen=True)
class SiteReport:
    root: Path
    pages: tuple[tuple[str, int], ...]
    """Every page's path (from the site root) and size in bytes."""
    downloads: int
    seconds: float

    @property
    def index(self) -> Path:
        return self.root / "index.html"

    @property
    def largest(self) -> tuple[str, int]:
        return max(self.pages, key=lambda p: p[1])


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def site_pages(zone: Zone, downloads: Downloads) -> list[Page]:
    """Every page of the site, in navigation order."""
    builders: tuple[Callable[[Zone, Downloads], list[Page]], ...] = (
        report_card.pages,
        activity.pages,
        outcomes.pages,
        equity.pages,
        trends.pages,
        ngos.pages,
        steward.pages,
    )
    box = methods_box(zone)
    pages = [
        replace(page, methods=box) if page.nav in AFFECTED else page
        for build in builders
        for page in build(zone, downloads)
    ]
    return [*pages, *methodology.pages(zone)]


def site_context(zone: Zone, folder: str = "") -> dict[str, Any]:
    """What every page's frame shows: the period and the publication. Not the list of released
    periods (``assets/periods.js`` holds it), so an earlier period's pages do not change when a
    period is added; only the root says its period is the latest."""
    published: Any = zone.publication.get("published_at")
    if hasattr(published, "strftime"):
        published = published.strftime("%Y-%m-%d %H:%M UTC")
    return {
        "latest": zone.latest,
        "folder": folder,
        "published_at": published,
        "plan_version": zone.publication.get("plan_version"),
    }


def views(zone: Zone) -> list[tuple[str, Zone]]:
    """(folder, zone as of a period): the latest at the site root, then every released period
    in a folder of its own (``2026-Q1/``), so a page's address names its period."""
    if not zone.released:
        return [("", zone)]
    return [("", zone), *((f"{p}/", zone.at(p)) for p in zone.released)]


def render(
    env: jinja2.Environment,
    page: Page,
    zone: Zone,
    folder: str = "",
    site: dict[str, Any] | None = None,
) -> str:
    """One page's HTML; ``folder`` is the period's folder (``2026-Q1/``, or "" at the root):
    links stay inside it, while the shared assets are found at the site root."""
    return env.get_template(page.template).render(
        page=page,
        root=page.root,
        top=page.root + "../" * folder.count("/"),
        nav=NAV,
        site=site if site is not None else site_context(zone, folder),
        csp=CSP,
    )


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give --out a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SiteError(
            f"{out} holds files that are not an Outcome Hub site; give --out an empty folder "
            "or the folder of a previous site"
        )


def _write_assets(root: Path) -> None:
    import plotly.offline

    assets = root / "assets"
    assets.mkdir(parents=True)
    (assets / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    for name in ("site.css", "site.js"):
        shutil.copyfile(ASSETS / name, assets / name)


def periods_script(released: tuple[str, ...]) -> str:
    """``assets/periods.js``: every released period, oldest first, for the period picker. One
    file per build instead of a list in every page, so adding a period changes no earlier page."""
    return (
        "/* Every released period, oldest first: written by each build for site.js's picker. */\n"
        f"window.outcomeHubPeriods = {json.dumps(list(released))};\n"
    )


_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, bytes(a), _AT_FDCWD, bytes(b), _RENAME_EXCHANGE)
    return bool(done == 0)


def _swap(staging: Path, out: Path) -> None:
    """Put the new site in place in one step: a reader sees the old site or the new, never half.

    Where the file system cannot exchange two folders, the old one is renamed away first (a
    moment with no site, never a mixed one)."""
    if not out.exists():
        staging.rename(out)
        return
    if _exchange(staging, out):
        shutil.rmtree(staging)  # now the old site
        return
    old = staging.with_name(staging.name + ".old")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old)


@contextmanager
def _building(out: Path) -> Iterator[Path]:
    """A staging folder of this build's own, with the site's lock held: builds run one at a
    time (a later build reads the later publication), leftovers of a killed build are cleared,
    and this build's staging folder is removed if it stops before the swap."""
    builds = out.with_name(f".{out.name}.building")
    builds.mkdir(parents=True, exist_ok=True)
    with (builds / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in builds.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)  # a build killed before its swap
        staging = Path(tempfile.mkdtemp(prefix="build-", dir=builds))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def build_site(published_db: Path, out: Path) -> SiteReport:
    """Build the whole site from ``published_db`` into ``out`` (replacing a previous site there)."""
    started = time.perf_counter()
    out = Path(out)
    _check_out(out)
    with _building(out) as staging:
        report = _build(published_db, out, staging)
    return SiteReport(out, report[0], report[1], time.perf_counter() - started)


def _build(published_db: Path, out: Path, staging: Path) -> tuple[tuple[tuple[str, int], ...], int]:
    """Render every page into ``staging`` and swap it in; (page sizes, downloads)."""
    zone = load_zone(published_db)
    staging.chmod(0o755)
    _write_assets(staging)
    (staging / "assets" / "periods.js").write_text(periods_script(zone.released), "utf-8")
    env = environment()
    sizes = []
    files = 0
    # Many thousand files: writer threads create them while this thread renders (file system
    # calls release the GIL), downloads first, as they are ready.
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="site-writer") as pool:
        writes: list[Future[None]] = []
        for folder, view in views(zone):
            downloads = Downloads()
            pages = site_pages(view, downloads)
            site = site_context(view, folder)
            files += len(downloads.files)
            writes.extend(
                pool.submit(_write, staging / folder / path, text.encode("utf-8"))
                for path, text in downloads.files.items()
            )
            for page in pages:
                data = render(env, page, view, folder, site).encode("utf-8")
                writes.append(pool.submit(_write, staging / folder / page.path, data))
                sizes.append((folder + page.path, len(data)))
        if zone.released:  # the picker's fallback for readers without JavaScript
            listing = periods.page(zone)
            data = render(env, listing, zone, "", site_context(zone)).encode("utf-8")
            writes.append(pool.submit(_write, staging / listing.path, data))
            sizes.append((listing.path, len(data)))
        for write in writes:
            write.result()  # a failed write fails the build, and the old site stays in place
    (staging / MARKER).write_text(
        "built by `outcomes site` from the published zone; rebuilt whole each time\n",
        encoding="utf-8",
    )
    _swap(staging, out)
    return tuple(sizes), files
