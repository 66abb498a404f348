"""The site at national scale: 2,000 NGOs, four quarters, every page still under the page budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_dashboards_zone import fabricate_zone

from dashboards import build_site

NATIONAL_NGOS = 2_000
QUARTERS = ("2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2")
PAGE_BUDGET = 300_000
CEILING_SECONDS = 300
"""A generous ceiling that catches an accidental quadratic, not a slow CI machine. Four quarters
render five times (each quarter's folder and the latest again at the root, decision 018): about
110 s on a busy two-core machine (see the build time the test prints)."""


@pytest.mark.slow
def test_a_national_site_builds_with_every_page_under_budget(tmp_path: Path) -> None:
    """Tests that a published zone of 2,000 NGOs over four quarters builds one page per NGO in
    every quarter's folder and at the root, that the NGO index (names, facts, status) and the
    paged budget tables keep every page under 300 KB, and that the build finishes in reasonable
    time."""
    published = fabricate_zone(
        tmp_path / "published.duckdb", ngos=NATIONAL_NGOS, periods=QUARTERS, seed=2
    )
    started = time.perf_counter()
    report = build_site(published, tmp_path / "site")
    seconds = time.perf_counter() - started
    print(
        f"national site: {len(report.pages):,} pages, {report.downloads:,} downloads, "
        f"{seconds:.1f} s, largest {report.largest}"
    )
    ngo_pages = [p for p, _ in report.pages if p.startswith("ngos/")]
    assert len(ngo_pages) == NATIONAL_NGOS
    for quarter in QUARTERS:
        assert sum(p.startswith(f"{quarter}/ngos/") for p, _ in report.pages) == NATIONAL_NGOS
    sizes = dict(report.pages)
    print(
        "index pages: "
        + ", ".join(f"{p} {sizes[p]:,}" for p in ("ngos.html", "steward.html", "trends.html"))
    )
    path, size = report.largest
    assert size < PAGE_BUDGET, f"{path} is {size:,} bytes"
    assert seconds < CEILING_SECONDS
