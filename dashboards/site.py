"""Build the static site from the published zone: every page, plotly.js once, the CSV downloads.

One Jinja environment (autoescaping on) renders every page; the zone is read
once. The site is written into a staging folder beside ``out`` and swapped in
whole, so a web server never serves half a site. Links are relative, so the
site works opened from ``file://`` as well as from any static server, and it
makes no network request: plotly.js is the installed package's own copy.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from dashboards.charts import Downloads
from dashboards.page import Page
from dashboards.pages import (
    activity,
    equity,
    methodology,
    ngos,
    outcomes,
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
    pages = [page for build in builders for page in build(zone, downloads)]
    return [*pages, *methodology.pages(zone)]


def _site_context(zone: Zone) -> dict[str, Any]:
    published: Any = zone.publication.get("published_at")
    if hasattr(published, "strftime"):
        published = published.strftime("%Y-%m-%d %H:%M UTC")
    return {
        "latest": zone.latest,
        "published_at": published,
        "plan_version": zone.publication.get("plan_version"),
    }


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


def _swap(staging: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    if old.exists():
        shutil.rmtree(old)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def build_site(published_db: Path, out: Path) -> SiteReport:
    """Build the whole site from ``published_db`` into ``out`` (replacing a previous site there)."""
    started = time.perf_counter()
    out = Path(out)
    _check_out(out)
    zone = load_zone(published_db)
    downloads = Downloads()
    pages = site_pages(zone, downloads)

    staging = out.with_name(f".{out.name}.building")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    _write_assets(staging)
    env = environment()
    site = _site_context(zone)
    sizes = []
    # Some 12,000 files: writer threads create them while this thread renders (file system
    # calls release the GIL), downloads first, as they are ready.
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="site-writer") as pool:
        writes = [
            pool.submit(_write, staging / path, text.encode("utf-8"))
            for path, text in downloads.files.items()
        ]
        for page in pages:
            html = env.get_template(page.template).render(
                page=page, root=page.root, nav=NAV, site=site, csp=CSP
            )
            data = html.encode("utf-8")
            writes.append(pool.submit(_write, staging / page.path, data))
            sizes.append((page.path, len(data)))
        for write in writes:
            write.result()  # a failed write fails the build, and the old site stays in place
    (staging / MARKER).write_text(
        "built by `outcomes site` from the published zone; rebuilt whole each time\n",
        encoding="utf-8",
    )
    _swap(staging, out)
    return SiteReport(out, tuple(sizes), len(downloads.files), time.perf_counter() - started)
