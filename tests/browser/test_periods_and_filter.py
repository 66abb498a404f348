"""The period picker and the NGO filter in real Chromium, opened from file:// (no server).

Both are plain site.js over the page's own markup: the picker's options are the
same page's relative address in each released period; the filter draws the NGO
table from the page's JSON. Neither may make a request beyond the site's files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PERIODS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


def _open(browser: Any, url: str) -> tuple[Any, list[str], list[str]]:
    """A new tab at ``url``: (page, requests it made, console errors)."""
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    return page, requests, errors


def test_the_period_picker_moves_between_quarters_from_file(browser: Any, site: Path) -> None:
    """Tests that choosing an earlier quarter in the picker on the root's Trends page opens the
    Trends page in that quarter's folder from file://, that it says which quarter it shows with
    that quarter selected, and that choosing the latest again leads to the latest's folder."""
    page, requests, errors = _open(browser, (site / "trends.html").as_uri())
    try:
        picker = page.locator("#period-picker")
        assert picker.count() == 1
        assert picker.input_value().endswith(f"{PERIODS[-1]}/trends.html")
        with page.expect_navigation(timeout=TIMEOUT_MS):
            picker.select_option(label=PERIODS[0])
        assert page.url == (site / PERIODS[0] / "trends.html").as_uri()
        assert f"period {PERIODS[0]}" in page.locator("header").inner_text()
        assert page.locator("#period-picker option:checked").inner_text() == PERIODS[0]
        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.locator("#period-picker").select_option(index=0)
        assert page.url == (site / PERIODS[-1] / "trends.html").as_uri()
        assert all(r.startswith(site.as_uri() + "/") for r in requests), requests
        assert errors == []
    finally:
        page.close()


def test_the_ngo_filter_finds_an_ngo_by_name_from_file(browser: Any, site: Path) -> None:
    """Tests that the NGO index's filter box appears with JavaScript, lists every NGO at first,
    narrows the table to the NGO whose name is typed, says how many are shown, shows nothing
    for a name no NGO has, and that the matched row links to that NGO's page, which exists."""
    page, requests, errors = _open(browser, (site / "ngos.html").as_uri())
    try:
        data = json.loads(page.locator("#ngo-data").text_content())
        total = len(data["rows"])
        assert total >= 2
        rows = page.locator("#ngo-rows tr")
        box = page.locator("#ngo-filter")
        assert box.is_visible()
        assert rows.count() == total
        name = data["rows"][-1][0]
        box.fill(name)
        assert rows.count() == sum(name.lower() in r[0].lower() for r in data["rows"])
        assert name in rows.first.inner_text()
        assert page.locator("#ngo-count").inner_text().startswith(f"{rows.count()} of {total}")
        href = rows.first.locator("a").get_attribute("href")
        assert href
        assert (site / href).is_file()
        box.fill("no ngo is called this")
        assert rows.count() == 0
        assert page.locator("#ngo-count").inner_text().startswith(f"0 of {total}")
        box.fill("")
        assert rows.count() == total
        assert all(r.startswith(site.as_uri() + "/") for r in requests), requests
        assert errors == []
    finally:
        page.close()
