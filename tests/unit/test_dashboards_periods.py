"""A site that follows the periods: a folder per released quarter, a picker between them, trends
that survive one quarter, four and a gap, NGO names and submission status, per-NGO budgets, the
methods box, one interval style, and outcomes for every group on the Equity page."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_dashboards import DEFICIT_WORDS, parse, read_csv, visible_text
from test_dashboards_zone import (
    GROUP_OUTCOMES,
    fabricate_zone,
    fabricated_ngo_name,
    fabricated_tables,
)

from dashboards import build_site, labels
from dashboards.zone import load_zone
from pipelines.privacy.plan import load_plan
from pipelines.privacy.postprocess import AWAITING_APPROVAL
from pipelines.published.status import submission_statuses
from pipelines.published.store import write_published

FOUR = ("2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2")
GAP = ("2025-Q1", "2025-Q2", "2025-Q3", "2026-Q1")
"""No release for 2025-Q4: the quarter before 2026-Q1 is missing, the year before is there."""


def _site(tmp_path: Path, periods: tuple[str, ...], **kwargs: object) -> tuple[Path, Path]:
    published = fabricate_zone(tmp_path / "published.duckdb", periods=periods, **kwargs)  # type: ignore[arg-type]
    site = tmp_path / "site"
    build_site(published, site)
    return site, published


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four consecutive quarters, four NGOs, the pooled outcomes by group included."""
    return _site(tmp_path_factory.mktemp("four"), FOUR, ngos=4, group_outcomes=True)


# --- periods --------------------------------------------------------------------------------


def test_every_period_has_its_folder_and_the_latest_is_also_at_the_root(
    four: tuple[Path, Path],
) -> None:
    """Tests that every released quarter has its own folder of pages named by the quarter, that
    the root shows the latest quarter, and that each folder's pages say which quarter they show."""
    site, _ = four
    for period in FOUR:
        for page in ("index.html", "trends.html", "ngos.html", "ngos/ngo-0001.html"):
            assert (site / period / page).is_file(), (period, page)
        assert f"period {period}" in visible_text(site / period / "index.html")
    assert f"period {FOUR[-1]} (the latest)" in visible_text(site / "index.html")
    assert "(the latest)" not in visible_text(site / FOUR[0] / "index.html")


def _picker_periods(site: Path) -> list[str]:
    """The released periods as ``assets/periods.js`` lists them for the picker."""
    script = (site / "assets" / "periods.js").read_text(encoding="utf-8")
    return list(json.loads(script.split("=", 1)[1].strip().rstrip(";")))


def test_the_period_picker_links_every_page_to_an_existing_page_of_each_period(
    four: tuple[Path, Path],
) -> None:
    """Tests that the released quarters are listed once, oldest first, in ``assets/periods.js``
    and in no page's markup (so adding a quarter changes no earlier page); that every page's
    picker names its own quarter and the page's place in its folder; and that the address the
    picker forms for every quarter (the same page there, or that quarter's home where it has no
    such page) is a file that exists. The root's periods page links every quarter's home."""
    site, _ = four
    assert _picker_periods(site) == list(FOUR)
    pages = [p for p in site.rglob("*.html") if p != site / "periods.html"]
    assert len(pages) > 50
    for page in pages:
        tags = parse(page).tags
        assert not [a for t, a in tags if t == "option"], page
        forms = [a for t, a in tags if t == "form" and a.get("id") == "period-form"]
        assert len(forms) == 1, page
        here, path, top = (forms[0][k] or "" for k in ("data-period", "data-path", "data-top"))
        assert (page.parent / top).resolve() == site.resolve(), page
        assert page.relative_to(site).as_posix() in (path, f"{here}/{path}"), page
        about = re.match(r"^steward/budgets-(\d{4}-Q[1-4])-", path)
        for period in FOUR:
            target = "index.html" if about is not None and about.group(1) > period else path
            assert (site / period / target).is_file(), (page, period)
        assert f"{top}periods.html" in [a.get("href") for t, a in tags if t == "a"], page
    listing = [a.get("href") for t, a in parse(site / "periods.html").tags if t == "a"]
    for period in FOUR:
        assert f"{period}/index.html" in listing


def test_an_earlier_folder_shows_no_later_release(four: tuple[Path, Path]) -> None:
    """Tests that the steward page of an earlier quarter's folder (its ledger, flag counts and
    submission counts) names no later quarter, while the root's names every quarter, so the
    folder does not change when a quarter is released after it."""
    site, _ = four
    earlier = visible_text(site / FOUR[1] / "steward.html")
    latest = visible_text(site / "steward.html")
    for later in FOUR[2:]:
        assert f"{later}-r1" not in earlier
        assert f"{later} all NGOs" not in earlier
        assert f"{later}-r1" in latest
    assert f"{FOUR[1]}-r1" in earlier
    releases = read_csv(site / FOUR[1] / "downloads" / "steward" / "releases.csv")
    assert {r["period"] for r in releases} == set(FOUR[:2])


def test_pages_request_nothing_from_the_network_and_load_the_shared_assets(
    four: tuple[Path, Path],
) -> None:
    """Tests that a page in a period folder loads the site's one copy of its assets (relative
    links up to the root) and names no remote address in any src or href."""
    site, _ = four
    page = site / FOUR[1] / "ngos" / "ngo-0002.html"
    srcs = [a.get("src") or a.get("href") or "" for _t, a in parse(page).tags]
    assert "../../assets/site.js" in srcs
    assert "../../assets/site.css" in srcs
    assert not any(re.match(r"(https?:)?//", s) for s in srcs)
    assert not (site / FOUR[1] / "assets").exists()


# --- trends ---------------------------------------------------------------------------------


def test_trends_with_one_quarter_say_so_and_give_no_change(tmp_path: Path) -> None:
    """Tests that a site of one quarter builds, its trends say only that quarter is released,
    no change is claimed, and no period picker is drawn."""
    site, _ = _site(tmp_path, ("2026-Q1",), ngos=2)
    text = visible_text(site / "trends.html")
    assert "only 2026-Q1 so far" in text
    assert "not released in 2025-Q4" in text
    assert "not released in 2025-Q1" in text
    assert _picker_periods(site) == ["2026-Q1"]  # site.js draws no picker for one period
    assert (site / "2026-Q1" / "trends.html").is_file()


def test_trends_over_four_quarters_give_the_change_with_its_quadrature_interval(
    four: tuple[Path, Path],
) -> None:
    """Tests that each headline's change since the quarter before is the difference of the two
    published values, with a 95% half-width of sqrt(h1² + h2²), stated on the page; a year
    before four consecutive quarters was not released, and the page says so."""
    site, published = four
    zone = load_zone(published)
    text = visible_text(site / "trends.html")
    assert "sqrt(h1² + h2²)" in text
    assert "not released in 2025-Q2" in text  # a year before 2026-Q2
    changes = read_csv(site / "downloads" / "trends" / "changes.csv")
    assert changes
    checked = 0
    for row in changes:
        now = zone.one(zone.pooled(row["measure"], row["period"]))
        before = zone.one(zone.pooled(row["measure"], row["compared_with"]))
        assert now is not None
        assert before is not None
        assert row["compared_with"] == "2026-Q1"
        h1 = max(now.value - now.low, now.high - now.value)  # type: ignore[operator]
        h2 = max(before.value - before.low, before.high - before.value)  # type: ignore[operator]
        assert float(row["change"]) == pytest.approx(now.value - before.value)  # type: ignore[operator]
        assert float(row["ci95_halfwidth"]) == pytest.approx(math.hypot(h1, h2))
        checked += 1
    assert checked >= 3


def test_trends_with_a_gap_break_the_line_and_compare_with_the_year_before(
    tmp_path: Path,
) -> None:
    """Tests that a quarter with no release stays on the trend's axis as a gap (no value), that
    the quarter before is said to be unreleased, and that the change since the same quarter a
    year before is given."""
    site, _ = _site(tmp_path, GAP, ngos=2)
    text = visible_text(site / "trends.html")
    assert "No quarter was released for 2025-Q4" in text
    assert "not released in 2025-Q4" in text
    changes = read_csv(site / "downloads" / "trends" / "changes.csv")
    assert changes
    assert {r["compared_with"] for r in changes} == {"2025-Q1"}
    figure = json.loads(
        next(
            body
            for attrs, body in parse(site / "trends.html").scripts
            if attrs.get("type") == "application/json" and attrs.get("id", "").startswith("fig-")
        )
    )
    line = figure["data"][-1]
    assert line["x"] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]
    assert line["y"][3] is None


# --- NGOs, submissions, budgets -------------------------------------------------------------


def test_the_ngo_index_names_every_ngo_with_its_facts_and_status(four: tuple[Path, Path]) -> None:
    """Tests that the NGO index lists every NGO by its register name with programmes, regions,
    clients served with an interval and this quarter's submission status, in the table and in
    the JSON the filter reads; NGO pages are titled by name."""
    site, _ = four
    text = visible_text(site / "ngos.html")
    for n in range(1, 5):
        assert fabricated_ngo_name(f"ngo-{n:04d}") in text
    assert "late" in text
    assert "not submitted" in text
    data = json.loads(
        next(b for a, b in parse(site / "ngos.html").scripts if a.get("id") == "ngo-data")
    )
    assert len(data["rows"]) == 4
    assert all(r[4] == "withheld" or "±" in r[4] or " to " in r[4] for r in data["rows"])
    assert data["programmes"]
    assert data["regions"]
    assert "ngo-0001" not in visible_text(site / "ngos" / "ngo-0001.html").split("(Register")[0]
    assert "<title>Whānau Support Trust 0001" in (site / "ngos" / "ngo-0001.html").read_text(
        encoding="utf-8"
    )


def test_the_steward_sees_who_submitted_and_budgets_per_ngo_never_summed(
    four: tuple[Path, Path],
) -> None:
    """Tests that the steward page says who was late and who has not submitted in the latest
    quarter, by name; that no budget is added across NGOs; that each NGO's budget page gives the
    rolling year beside the quarter; and that the accuracy curves mark the budget in force."""
    site, _ = four
    text = visible_text(site / "steward.html")
    assert f"late: {fabricated_ngo_name('ngo-0002')}" in text
    assert f"not submitted: {fabricated_ngo_name('ngo-0003')}" in text
    for summed in ("Spent, all NGOs", "Left, all NGOs", "Total"):
        assert summed not in text.split("Ledger of releases")[0], summed
    budget = visible_text(site / "steward" / f"budgets-{FOUR[-1]}-1.html")
    assert f"{FOUR[0]}..{FOUR[-1]}" in budget
    assert "Year cap (ρ)" in budget
    assert "The dashed line marks the budget in force: ρ 0.5" in text


def test_submission_status_comes_from_arrival_times_against_the_window() -> None:
    """Tests that an NGO whose first held submission arrived before the window closed is
    submitted, one that arrived on the closing day or later is late, and a registered NGO with
    nothing is not submitted, in every period."""
    closes = date(2026, 4, 20)  # Q1 ends 31 March; a 19-day window is closed from 20 April
    frame = submission_statuses(
        [
            ("2026-Q1", "ngo-0001", datetime(2026, 4, 5, tzinfo=UTC)),
            ("2026-Q1", "ngo-0002", closes),
            ("2026-Q1", "ngo-0002", datetime(2026, 5, 30, tzinfo=UTC)),
        ],
        ["ngo-0001", "ngo-0002", "ngo-0003"],
        ["2026-Q1", "2025-Q4"],
        window_days=19,
    )
    status = {(r.period, r.ngo_id): r.status for r in frame.itertuples()}
    assert status[("2026-Q1", "ngo-0001")] == "submitted"
    assert status[("2026-Q1", "ngo-0002")] == "late"
    assert status[("2026-Q1", "ngo-0003")] == "not submitted"
    assert status[("2025-Q4", "ngo-0001")] == "not submitted"
    assert set(frame["window_closes_on"]) == {"2026-04-20", "2026-01-20"}


def test_an_extract_in_time_for_its_quarters_release_is_not_late() -> None:
    """Tests that an extract that arrived after the window closed but before the quarter was
    first released (it is in that release) is submitted, and one that arrived after both is
    late; an unreleased quarter judges by the window alone."""
    released = datetime(2026, 6, 1, 9, tzinfo=UTC)
    frame = submission_statuses(
        [
            ("2026-Q1", "ngo-0001", datetime(2026, 5, 30, tzinfo=UTC)),
            ("2026-Q1", "ngo-0002", datetime(2026, 6, 1, 10, tzinfo=UTC)),
            ("2026-Q2", "ngo-0001", datetime(2026, 8, 30, tzinfo=UTC)),
        ],
        ["ngo-0001", "ngo-0002"],
        ["2026-Q1", "2026-Q2"],
        window_days=19,
        first_released={"2026-Q1": released},
    )
    status = {(r.period, r.ngo_id): r.status for r in frame.itertuples()}
    assert status[("2026-Q1", "ngo-0001")] == "submitted"
    assert status[("2026-Q1", "ngo-0002")] == "late"
    assert status[("2026-Q2", "ngo-0001")] == "late"


# --- methods, intervals, equity -------------------------------------------------------------


def test_pages_of_estimates_carry_the_methods_box_read_from_the_zone(
    four: tuple[Path, Path],
) -> None:
    """Tests that the report card, outcomes, equity, trends and NGO pages state the contribution
    caps from the plan, the budget per NGO for a quarter and a year (ρ and ε at δ) and what
    withheld means; the steward's bookkeeping page has no such box."""
    site, _ = four
    plan = load_plan()
    for page in ("index.html", "outcomes.html", "equity.html", "trends.html", "ngos.html"):
        text = visible_text(site / page)
        assert f"at most {plan.episodes_per_client} episodes per NGO per quarter" in text, page
        assert f"at most {plan.sessions_per_episode} sessions" in text, page
        assert f"ρ {plan.default_rho:g} (ε" in text, page
        assert f"δ {plan.delta:g}" in text, page
        assert f"at most ρ {plan.annual_rho:g}" in text, page
        assert "A withheld number is not zero" in text, page
    assert 'class="methods"' not in (site / "steward.html").read_text(encoding="utf-8")


def test_one_interval_style_everywhere() -> None:
    """Tests that a symmetric interval reads "value ± half-width", an asymmetric one "a to b",
    and a change "difference ± half-width", in the same words for every unit."""
    assert labels.plus_minus(100.0, 89.0, 111.0, "clients") == "± 11"
    assert labels.estimate(100.0, 89.0, 111.0, "clients") == "100 ± 11"
    assert labels.estimate(0.5, 0.45, 0.55, "share") == "50.0% ± 5.0 points"
    assert labels.plus_minus(2.0, 0.0, 6.0, "clients") == "0 to 6"
    assert labels.estimate(2.0, 0.0, 6.0, "clients") == "2 (95% interval 0 to 6)"
    assert labels.change(-0.031, 0.042, "share") == "−3.1 ± 4.2 points"
    assert labels.change(120.0, 70.4, "clients") == "+120 ± 70"


def test_equity_shows_outcomes_for_every_group_when_the_zone_has_them(
    four: tuple[Path, Path],
) -> None:
    """Tests that the Equity page draws mean change, the share whose scores rose and the share
    whose scores fell for each of ethnicity, age band and gender, that Māori-data cells show as
    waiting for approval, and that its words stay free of deficit framing."""
    site, _ = four
    page = site / "equity.html"
    ids = {a.get("id") for _t, a in parse(page).tags}
    for measure, *_ in GROUP_OUTCOMES:
        assert f"chart-{measure}" in ids, measure
    text = visible_text(page)
    assert AWAITING_APPROVAL in text
    for word in DEFICIT_WORDS:
        assert word not in text.lower(), word
    outcomes = visible_text(site / "outcomes.html")
    assert "Share of clients whose scores fell" in outcomes


def test_equity_without_outcomes_by_group_falls_back_to_reach(tmp_path: Path) -> None:
    """Tests that a zone without outcomes by group still builds an Equity page that says so and
    shows whom each programme serves."""
    site, _ = _site(tmp_path, ("2026-Q1",), ngos=2)
    text = visible_text(site / "equity.html")
    assert "does not break outcomes down by ethnicity" in text
    assert "Whom each programme serves" in text


def test_a_hostile_register_name_is_text_everywhere(tmp_path: Path) -> None:
    """Tests that an NGO name that is markup or a spreadsheet formula stays inert: escaped in
    every page and in the NGO index's JSON, neutralised in every download."""
    hostile = '=HYPERLINK("x")<script>alert(1)</script>'
    tables = fabricated_tables(ngos=2, periods=("2026-Q1",))
    tables["ngos"].loc[0, "name"] = hostile
    published = tmp_path / "published.duckdb"
    write_published(published, tables)
    site = tmp_path / "site"
    build_site(published, site)
    for page in site.rglob("*.html"):
        assert "<script>alert(1)" not in page.read_text(encoding="utf-8"), page
    assert hostile in visible_text(site / "ngos" / "ngo-0001.html")
    data = json.loads(
        next(b for a, b in parse(site / "ngos.html").scripts if a.get("id") == "ngo-data")
    )
    assert hostile in [r[0] for r in data["rows"]]
    for download in site.rglob("*.csv"):
        for row in read_csv(download):
            assert hostile not in row.values(), download
