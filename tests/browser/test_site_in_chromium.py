"""Every page of the site in headless Chromium, from file:// and from a static server.

For each page: no console error and no uncaught exception, no failed request,
no request anywhere but the site itself (file:// or the test's own loopback
server), every chart drawn by plotly.js into an SVG, every chart's table and
download present (the table one click away), and a screenshot kept under
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import PERIODS

pytestmark = pytest.mark.browser

MAIN_PAGES = (
    "index.html",
    "programmes.html",
    "regions.html",
    "outcomes.html",
    "equity.html",
    "trends.html",
    "ngos.html",
    "steward.html",
    "methodology.html",
)
GROUPS = (
    *MAIN_PAGES,
    "periods.html",
    "ngos/*.html",
    "steward/*.html",
    *(f"{period}/{pages}" for period in PERIODS for pages in ("*.html", "*/*.html")),
)
"""Every page at the root (the latest period, and the list of periods), and every page of each
period's own folder."""
MODES = ("file", "http")
RENDER_TIMEOUT_MS = 30_000
ALL_DRAWN = """() => {
  const plots = Array.from(document.querySelectorAll('[data-figure]'));
  return plots.every(p => p.classList.contains('js-plotly-plot') && p.querySelector('svg.main-svg'));
}"""


@dataclass
class Visit:
    """What a page did while it loaded."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)


def _pages(site: Path, group: str) -> list[str]:
    if "*" in group:
        found = sorted(str(p.relative_to(site)) for p in site.glob(group))
        assert found, f"no page matches {group}"
        return found
    return [group]


def _url(site: Path, server: str, mode: str, page: str) -> str:
    return (site / page).as_uri() if mode == "file" else server + page


def _allowed(url: str, site: Path, server: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True  # made inside the page by plotly.js; never leaves the browser
    return url.startswith((site.as_uri() + "/", server))


def _visit(browser: Any, url: str, shot: Path) -> tuple[Visit, Any]:
    visit = Visit()
    page = browser.new_page()
    page.on("request", lambda r: visit.requests.append(r.url))
    page.on("requestfailed", lambda r: visit.failed.append(f"{r.url}: {r.failure}"))
    page.on(
        "response",
        lambda r: visit.bad_status.append(f"{r.url}: {r.status}") if r.status >= 400 else None,
    )
    page.on(
        "console",
        lambda m: visit.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: visit.errors.append(f"uncaught: {e}"))
    page.goto(url, wait_until="load")
    page.wait_for_function(ALL_DRAWN, timeout=RENDER_TIMEOUT_MS)
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    return visit, page


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("group", GROUPS)
def test_page_renders_offline_with_every_chart_and_table(
    browser: Any, served: Any, mode: str, group: str
) -> None:
    """Tests that each page loads with no console error and no failed request, requests nothing
    but the site's own files, draws every chart, shows every chart's data table one click away
    with its download beside it, and leaves a screenshot."""
    site, server = served.site, served.server
    # Any request to anywhere else is refused (and reported below), so a test never goes online.
    browser.route(
        "**/*",
        lambda route: (
            route.continue_()
            if _allowed(route.request.url, site, server)
            else route.abort("blockedbyclient")
        ),
    )
    for name in _pages(site, group):
        shot = served.screenshots / mode / name.replace("/", "__").replace(".html", ".png")
        visit, page = _visit(browser, _url(site, server, mode, name), shot)
        try:
            assert not visit.errors, f"{name} ({mode}): {visit.errors}"
            assert not visit.failed, f"{name} ({mode}): {visit.failed}"
            assert not visit.bad_status, f"{name} ({mode}): {visit.bad_status}"
            outside = [u for u in visit.requests if not _allowed(u, site, server)]
            assert not outside, f"{name} ({mode}) requested {outside}"

            charts = page.locator("figure.chart")
            plots = page.locator("[data-figure]")
            assert charts.count() == plots.count()
            assert page.locator(".js-plotly-plot svg.main-svg").count() >= plots.count()
            for i in range(charts.count()):
                chart = charts.nth(i)
                assert chart.locator("table").count() == 1, f"{name}: chart {i} has no table"
                assert chart.locator("a[download][href$='.csv']").count() == 1
            written = (site / name).read_text(encoding="utf-8").count("<table")
            assert page.locator("table").count() == written, f"{name}: a table is missing"
            assert written >= charts.count()
            if charts.count():
                first = charts.first
                table = first.locator("details table")
                assert not table.is_visible()
                first.locator("details summary").click()
                assert table.is_visible(), f"{name}: the data table is not one click away"
            if plots.count():
                assert any(u.endswith("/assets/plotly.min.js") for u in visit.requests), (
                    f"{name} did not load the local plotly.js"
                )
        finally:
            page.close()


def test_every_built_page_is_visited(site: Path, chromium: Path) -> None:
    """Tests that the page groups above cover every page the build wrote, so none goes untested."""
    covered = {p for g in GROUPS for p in _pages(site, g)}
    built = {str(p.relative_to(site)) for p in site.rglob("*.html")}
    assert built == covered


def test_one_click_from_a_programme_to_its_regions_and_back(browser: Any, site: Path) -> None:
    """Tests that, in the browser, a programme's link opens its regions, whose link leads back."""
    page = browser.new_page()
    try:
        page.goto((site / "programmes.html").as_uri(), wait_until="load")
        link = page.locator("#programmes a").first
        target = link.get_attribute("href")
        assert target
        assert target.startswith("regions.html#programme-")
        link.click()
        page.wait_for_url("**/regions.html#programme-*")
        anchor = target.split("#", 1)[1]
        section = page.locator(f"section#{anchor}")
        assert section.locator("figure.chart").count() >= 1
        section.locator(f"a[href='programmes.html#{anchor}']").click()
        page.wait_for_url(f"**/programmes.html#{anchor}")
        assert page.locator(f"#{anchor}").count() == 1
    finally:
        page.close()
