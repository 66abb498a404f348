"""The funder site, built from a fabricated published zone with hostile and withheld cells planted.

No browser here (see tests/browser/): these tests read the built files and
check what a funder would notice — a page missing or too heavy, a request that
would leave the machine, a label that runs as code, a spreadsheet formula in a
download, a withheld number shown as zero, a flag nothing explains.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_dashboards_zone import PERIODS, fabricated_tables

from dashboards import SiteError, build_site
from dashboards.pages.methodology import UnexplainedFlag
from dashboards.pages.ngos import ngo_file
from pipelines.home import Home
from pipelines.privacy.postprocess import AWAITING_APPROVAL, TOO_NOISY
from pipelines.published.store import read_table, write_published
from pipelines.standard.contract import load_contract

SCRIPT_TITLE = '<script>alert("title")</script> Clients served by programme'
IMG_REGION = "<img src=x onerror=alert(1)>"
FORMULA_TITLE = "=SUM(1,2) Sessions delivered by region"
FORMULA_REASON = "@SUM(1+1) too uncertain to publish"
HOSTILE_NGO = "../evil<b>ngo"
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
PAGE_BUDGET = 300_000
DEFICIT_WORDS = (
    "deficit",
    "disadvantaged",
    "deprived",
    "at-risk",
    "at risk",
    "vulnerable",
    "failing",
    "worse",
    "poor ",
)


def planted_tables() -> dict[str, pd.DataFrame]:
    """Two periods, three NGOs and one hostile NGO id; hostile labels; withheld cells holding 0."""
    tables = fabricated_tables(ngos=3, periods=PERIODS, seed=4)
    cells = tables["cells"]
    extra = cells[cells["ngo_id"] == "ngo-0001"].copy()
    extra["ngo_id"] = HOSTILE_NGO
    cells = pd.concat([cells, extra], ignore_index=True)
    latest = PERIODS[-1]

    by_programme = cells["measure"] == "clients_by_programme"
    cells.loc[by_programme, "title"] = SCRIPT_TITLE
    measures = tables["measures"]
    measures.loc[measures["measure"] == "clients_by_programme", "title"] = SCRIPT_TITLE

    region_cell = cells.index[
        (cells["measure"] == "clients_by_region") & (cells["period"] == latest)
    ][0]
    cells.loc[region_cell, "region"] = IMG_REGION
    cells.loc[region_cell, ["reliability", "withheld_reason"]] = ["ok", None]
    cells.loc[region_cell, ["value", "ci95_low", "ci95_high"]] = [120.0, 100.0, 140.0]

    sessions = cells["measure"] == "sessions_by_region"
    cells.loc[sessions, "title"] = FORMULA_TITLE
    measures.loc[measures["measure"] == "sessions_by_region", "title"] = FORMULA_TITLE

    exits = cells.index[(cells["measure"] == "exits_by_reason") & (cells["period"] == latest)][0]
    cells.loc[exits, ["reliability", "withheld_reason"]] = ["withheld", FORMULA_REASON]

    total = (cells["measure"] == "clients_total") & (cells["period"] == latest)
    cells.loc[total, ["reliability", "withheld_reason"]] = ["withheld", TOO_NOISY]

    # A careless publisher might store 0 for a withheld cell: the site must still say "withheld".
    withheld = cells["reliability"] == "withheld"
    cells.loc[withheld, ["value", "ci95_low", "ci95_high"]] = 0.0

    tables["cells"] = cells
    budgets = tables["budgets"]
    hostile = budgets[budgets["ngo_id"] == "ngo-0001"].assign(ngo_id=HOSTILE_NGO)
    tables["budgets"] = pd.concat([budgets, hostile], ignore_index=True)
    return tables


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The site built once from the planted zone: (site folder, published.duckdb)."""
    root = tmp_path_factory.mktemp("dashboards")
    published = root / "published" / "published.duckdb"
    write_published(published, planted_tables())
    site = root / "site"
    build_site(published, site)
    return site, published


class _Parsed(HTMLParser):
    """Tags with their attributes, table rows with their class, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[str, list[str]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._row_class = ""
        self._cell: list[str] | None = None
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "tr":
            self._row, self._row_class = [], attributes.get("class") or ""
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script":
            self._script, self._script_text = attributes, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append((self._row_class, self._row))
            self._row = None
        elif tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Parsed:
    parsed = _Parsed()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def visible_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(parse(path).text))


def figures_of(path: Path) -> dict[str, Any]:
    return {
        str(attrs.get("id")): json.loads(body)
        for attrs, body in parse(path).scripts
        if attrs.get("type") == "application/json"
    }


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


# --- pages ------------------------------------------------------------------------------------


def test_every_page_exists_and_stays_under_the_page_budget(built: tuple[Path, Path]) -> None:
    """Tests that the site has every page the issue lists, one per NGO and per budget period,
    nothing else, and that each is under 300 KB (plotly.js, shared, is the only larger file)."""
    site, published = built
    ngos = sorted(set(read_table(published, "budgets")["ngo_id"]))
    expected = {
        *MAIN_PAGES,
        *(f"ngos/{ngo_file(n)}.html" for n in ngos),
        *(f"steward/budgets-{p}-1.html" for p in PERIODS),
    }
    found = {str(p.relative_to(site)) for p in html_pages(site)}
    assert found == {
        *expected,
        "periods.html",
        *(
            f"{period}/{page}"
            for period in PERIODS
            for page in expected
            if not page.startswith("steward/budgets-") or page[16:23] <= period
        ),
    }
    sizes = {str(p.relative_to(site)): p.stat().st_size for p in html_pages(site)}
    assert max(sizes.values()) < PAGE_BUDGET, sizes
    assert (site / "assets" / "plotly.min.js").stat().st_size > PAGE_BUDGET


def test_pages_load_only_local_files_and_never_the_network(built: tuple[Path, Path]) -> None:
    """Tests that every src and href is a relative link to a file of the site (no CDN, no web
    font, no URL at all), that every #fragment exists, and that plotly.js is the local copy."""
    import plotly.offline

    site, _ = built
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"(?i)\b(https?|ftp|wss?):", text), page
        assert "//" not in " ".join(
            str(v)
            for _t, attrs in parse(page).tags
            for k, v in attrs.items()
            if k in ("src", "href")
        ), page
        ids = [a["id"] for _t, a in parse(page).tags if a.get("id")]
        assert len(ids) == len(set(ids)), f"{page}: duplicate ids"
        for tag, attrs in parse(page).tags:
            for key in ("src", "href"):
                target = attrs.get(key)
                if target is None:
                    continue
                assert not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target), (page, target)
                path, _, fragment = target.partition("#")
                resolved = (page.parent / path).resolve() if path else page.resolve()
                assert resolved.is_file(), (page, target)
                assert resolved.is_relative_to(site.resolve()), (page, target)
                if fragment:
                    ids = {a.get("id") for _t, a in parse(resolved).tags}
                    assert fragment in ids, (page, target)
            if tag == "link":
                assert attrs.get("rel") == "stylesheet"
    for asset in ("site.css", "site.js"):
        text = (site / "assets" / asset).read_text(encoding="utf-8")
        assert not re.search(r"(?i)(https?:|//[a-z]|@import|url\()", text), asset
    plotly_copy = (site / "assets" / "plotly.min.js").read_text(encoding="utf-8")
    assert plotly_copy == plotly.offline.get_plotlyjs()
    assert 'src="assets/plotly.min.js"' in (site / "index.html").read_text(encoding="utf-8")
    assert 'src="../assets/plotly.min.js"' in (site / "ngos" / "ngo-0001.html").read_text(
        encoding="utf-8"
    )


def test_labels_from_data_are_escaped_and_no_script_runs_but_ours(built: tuple[Path, Path]) -> None:
    """Tests that a measure title holding <script>, a region holding an <img onerror> and a
    hostile NGO id show as text: the only scripts are the local plotly.js and site.js and
    JSON data, no element carries an event handler, and no NGO id becomes a path."""
    site, _ = built
    for page in html_pages(site):
        raw = page.read_text(encoding="utf-8")
        assert "<script>alert" not in raw
        assert "<img" not in raw
        assert "<b>ngo" not in raw
        parsed = parse(page)
        for attrs, body in parsed.scripts:
            if attrs.get("src"):
                assert attrs["src"].endswith(
                    ("assets/plotly.min.js", "assets/periods.js", "assets/site.js")
                )
                assert not body.strip()
            else:
                assert attrs.get("type") == "application/json", page
                assert "</" not in body
                assert "<!--" not in body
                json.loads(body)
        for _tag, tag_attrs in parsed.tags:
            assert not any(k.startswith("on") for k in tag_attrs), (page, tag_attrs)
    programmes = site / "programmes.html"
    assert SCRIPT_TITLE in visible_text(programmes)
    figure = figures_of(programmes)["fig-clients_by_programme"]
    assert figure["data"][0]["name"] == html.escape(SCRIPT_TITLE, quote=False)
    assert IMG_REGION in visible_text(site / "regions.html")
    hostile_page = site / "ngos" / f"{ngo_file(HOSTILE_NGO)}.html"
    assert hostile_page.is_file()
    assert HOSTILE_NGO in visible_text(hostile_page)
    assert not (site.parent / "evil<b>ngo.html").exists()


def test_every_chart_is_described_and_has_its_table(built: tuple[Path, Path]) -> None:
    """Tests that every chart has a text alternative, a captioned data table with column headers
    one click away (<details>), and a CSV download beside it."""
    site, _ = built
    charts = 0
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8")
        for part in text.split('<figure class="chart"')[1:]:
            block = part.split("</figure>")[0]
            charts += 1
            assert re.search(r'data-figure="fig-[^"]+" role="img" aria-label="Chart: [^"]+"', block)
            assert "<details" in block
            assert "<caption>" in block
            assert '<th scope="col">' in block
            assert re.search(r'<a href="[^"]+\.csv" download>', block)
    assert charts > 30


def test_labels_come_from_the_contracts(built: tuple[Path, Path]) -> None:
    """Tests that dimension values are shown with the contracts' labels (macrons included),
    never as their codes."""
    site, _ = built
    text = visible_text(site / "equity.html")
    episodes = load_contract("episodes")
    for dimension in ("ethnicity", "age_band", "gender", "programme"):
        for label in episodes.column(dimension).labels.values():
            assert label in text, label
    governed = episodes.governed_dimensions[0]
    label = episodes.column(governed.dimension).labels[governed.values[0]]
    assert any(ord(c) > 127 for c in label)  # the label with its macron, not the code
    assert f"{label} \u00d7 " in text  # named in the withheld note above the chart
    outcomes = visible_text(site / "outcomes.html")
    changed = [
        e.label
        for e in load_contract("assessments").column("domain").enum
        if e.category in ("circumstances", "goals")
    ]
    assert changed
    for label in changed:
        assert label in outcomes


# --- downloads ----------------------------------------------------------------------------------


def test_csv_downloads_neutralise_formulas_and_keep_numbers(built: tuple[Path, Path]) -> None:
    """Tests that a title or reason a spreadsheet would run (=, @) is prefixed with ' in every
    download, while plain numbers such as a change of -4 stay numbers."""
    site, _ = built
    sessions = read_csv(site / "downloads" / "regions" / "sessions_by_region.csv")
    assert sessions
    assert {r["title"] for r in sessions} == {"'" + FORMULA_TITLE}
    exits = read_csv(site / "downloads" / "programmes" / "exits_by_reason.csv")
    assert "'" + FORMULA_REASON in {r["withheld_reason"] for r in exits}
    change = read_csv(site / "downloads" / "outcomes" / "change_distribution.csv")
    assert {r["change"] for r in change} >= {"-4", "-1", "0", "4"}
    for path in (site / "downloads").rglob("*.csv"):
        for row in read_csv(path):
            for value in row.values():
                if value[:1] in ("=", "+", "@") or (
                    value[:1] == "-" and not re.fullmatch(r"-\d+(\.\d+)?(e-?\d+)?", value)
                ):
                    pytest.fail(f"{path}: unneutralised cell {value!r}")


def test_each_chart_download_holds_exactly_the_cells_it_shows(built: tuple[Path, Path]) -> None:
    """Tests that each chart's CSV has one row per row of the chart's data table, in the export
    layout (release, period, measure, keys, value, interval, reliability, reason, budget)."""
    site, _ = built
    for page in (site / "equity.html", site / "outcomes.html", site / "ngos" / "ngo-0002.html"):
        parsed = parse(page)
        charts = [a.get("id") for t, a in parsed.tags if t == "figure"]
        links = [
            a.get("href")
            for t, a in parsed.tags
            if t == "a"
            and str(a.get("href", "")).endswith(".csv")
            and "downloads/" in str(a.get("href"))
        ]
        tables = page.read_text(encoding="utf-8").split('<figure class="chart"')[1:]
        assert len(charts) == len(tables)
        assert charts
        for block in tables:
            href = re.search(r'href="([^"]+\.csv)" download>Download exactly', block)
            assert href, page
            rows = block.split("<tbody>")[1].split("</tbody>")[0].count("<tr")
            data = read_csv((page.parent / href.group(1)).resolve())
            assert len(data) == rows, (page, href.group(1))
            assert {
                "value",
                "ci95_low",
                "ci95_high",
                "reliability",
                "withheld_reason",
                "rho",
            } <= set(data[0])
        assert links


# --- honesty ------------------------------------------------------------------------------------


def test_withheld_cells_are_never_shown_as_zero(built: tuple[Path, Path]) -> None:
    """Tests that cells stored withheld (even with a value of 0 in the table) read "withheld"
    with their reason in every table, are null in every figure, are empty in every download,
    and that the report card's withheld headline says so instead of 0."""
    site, _ = built
    withheld_rows = 0
    for page in html_pages(site):
        for row_class, cells in parse(page).rows:
            if "flag-withheld" in row_class:
                withheld_rows += 1
                assert "withheld" in cells, (page, cells)
                assert any(c.startswith("withheld: ") for c in cells), (page, cells)
                # Key columns come first ("0" is a change-in-score key); none after them.
                assert "0" not in cells[cells.index("withheld") :], (page, cells)
    assert withheld_rows > 50

    governed = load_contract("episodes").governed_dimensions[0]
    dimension, value = governed.dimension, governed.values[0]
    label = load_contract("episodes").column(dimension).labels[value]
    equity = figures_of(site / "equity.html")[f"fig-clients_by_{dimension}"]
    series = [t for t in equity["data"] if t["name"].startswith(label)]
    assert series
    assert series[0]["name"] == f"{label} (withheld)"
    assert all(v is None for t in series for v in t["x"])
    text = visible_text(site / "equity.html")
    assert AWAITING_APPROVAL in text

    rows = read_csv(site / "downloads" / "equity" / "clients_by_ethnicity.csv")
    for row in rows:
        if row["reliability"] == "withheld":
            assert row["value"] == row["ci95_low"] == row["ci95_high"] == ""
    assert any(
        r["ethnicity"] == "maori" and r["withheld_reason"] == AWAITING_APPROVAL for r in rows
    )

    index = parse(site / "index.html")
    tile = visible_text(site / "index.html").split("Clients served", 1)[1][:200]
    assert tile.strip().startswith("withheld")
    assert TOO_NOISY in tile
    trend = figures_of(site / "trends.html")["fig-clients_total"]
    line = next(t for t in trend["data"] if t.get("mode") == "lines+markers")
    assert line["y"][-1] is None
    assert line["y"][0] is not None
    assert index.tags


def test_every_noisy_number_carries_its_interval(built: tuple[Path, Path]) -> None:
    """Tests that every table row of a noisy cell that is not withheld has a 95% interval, every
    figure of published cells has error bars, and low cells are marked in tables and charts."""
    site, _ = built
    low_rows = 0
    for page in (site / "programmes.html", site / "outcomes.html", site / "ngos" / "ngo-0001.html"):
        text = page.read_text(encoding="utf-8")
        for block in text.split('<figure class="chart"')[1:]:
            head = re.search(r"<thead><tr>(.*?)</tr></thead>", block, re.S)
            assert head
            assert "95% interval" in head.group(1)
        for row_class, cells in parse(page).rows:
            if "flag-low" in row_class:
                low_rows += 1
                assert "low" in cells
            if (
                row_class in ("", "flag-low")
                and "withheld" not in cells
                and " to " in " ".join(cells)
            ):
                assert any(re.search(r".+ to .+", c) for c in cells)
        for figure in figures_of(page).values():
            if any(
                t.get("type") == "bar" and t.get("error_y", t.get("error_x"))
                for t in figure["data"]
            ):
                continue
            assert all(
                ("error_x" in t or "error_y" in t)
                for t in figure["data"]
                if t.get("type") == "scatter"
            )
    assert low_rows > 0
    assert "low</strong> reliability" in (site / "programmes.html").read_text(encoding="utf-8")


def test_report_card_answers_the_three_questions_with_intervals_and_change(
    built: tuple[Path, Path],
) -> None:
    """Tests that the report card asks the three RBA questions, gives each headline with its
    95% interval (± or a range), the change since the previous period, and the paired target."""
    site, _ = built
    text = visible_text(site / "index.html")
    for question in ("How much did we do?", "How well did we do it?", "Is anyone better off?"):
        assert question in text
    assert text.count(f"Since {PERIODS[0]}:") >= 4
    assert "Target 50%" in text
    assert re.search(r"± [\d.,]+ (points )?\(95% interval\)|95% interval [\d.,%]+ to", text)


def test_programmes_reach_their_regions_in_one_click_and_back(built: tuple[Path, Path]) -> None:
    """Tests that each programme links to its section of the Regions page, which links back."""
    site, _ = built
    programmes = parse(site / "programmes.html")
    regions = parse(site / "regions.html")
    codes = load_contract("episodes").column("programme").accepted_values
    forward = {a.get("href") for t, a in programmes.tags if t == "a"}
    back = {a.get("href") for t, a in regions.tags if t == "a"}
    region_ids = {a.get("id") for _t, a in regions.tags}
    programme_ids = {a.get("id") for _t, a in programmes.tags}
    for code in codes:
        anchor = f"programme-{code}"
        assert f"regions.html#{anchor}" in forward
        assert anchor in region_ids
        assert anchor in programme_ids
        assert f"programmes.html#{anchor}" in back


def test_equity_page_describes_services_not_groups_in_deficit(built: tuple[Path, Path]) -> None:
    """Tests that the equity page's words describe whom services reach, with no deficit framing."""
    site, _ = built
    text = visible_text(site / "equity.html").lower()
    for word in DEFICIT_WORDS:
        assert word not in text, word
    assert "whom each programme serves" in text


def test_methodology_explains_every_flag_and_reason_used(built: tuple[Path, Path]) -> None:
    """Tests that the methodology page names and explains every reliability flag and every
    withheld reason present in the published cells, the meaning of the band, and the budgets."""
    site, published = built
    cells = read_table(published, "cells")
    text = visible_text(site / "methodology.html")
    for flag in cells["reliability"].dropna().unique():
        assert re.search(rf"\b{re.escape(flag)}\b", text), flag
    for reason in cells["withheld_reason"].dropna().unique():
        assert reason in text, reason
    for phrase in (
        "privacy noise only",
        "not a sampling error",
        "do not add up",
        "ρ",
        "ε",
        "δ = 1e-07",
    ):
        assert phrase in text, phrase
    used = {
        cls.removeprefix("flag-")
        for page in html_pages(site)
        for _t, a in parse(page).tags
        for cls in str(a.get("class") or "").split()
        if cls.startswith("flag-")
    }
    explained = {"ok", "low", "withheld", "missing"}
    assert used <= explained
    assert "not in this release" in text


def test_an_unexplained_flag_stops_the_build(tmp_path: Path) -> None:
    """Tests that a reliability flag the methodology page cannot explain fails the build."""
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    tables["cells"].loc[0, "reliability"] = "dubious"
    write_published(tmp_path / "published.duckdb", tables)
    with pytest.raises(UnexplainedFlag, match=r"reliability flag\(s\) \['dubious'\]"):
        build_site(tmp_path / "published.duckdb", tmp_path / "site")
    assert not (tmp_path / "site").exists()


# --- building ----------------------------------------------------------------------------------


def test_a_zone_with_no_release_yet_still_builds_and_says_so(tmp_path: Path) -> None:
    """Tests that before any release the site builds every main page and says nothing is
    released yet, instead of failing or printing "None"."""
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    for name in ("cells", "releases", "spends", "budgets", "submission_counts"):
        tables[name] = tables[name].iloc[0:0]
    write_published(tmp_path / "published.duckdb", tables)
    report = build_site(tmp_path / "published.duckdb", tmp_path / "site")
    assert {p for p, _ in report.pages} == set(MAIN_PAGES)
    assert "Nothing has been released yet" in visible_text(tmp_path / "site" / "index.html")
    for page in MAIN_PAGES:
        assert "None" not in visible_text(tmp_path / "site" / page), page


def test_the_site_refuses_a_folder_it_did_not_build(tmp_path: Path) -> None:
    """Tests that --out pointing at a folder of other files is refused, and nothing in it changes."""
    write_published(tmp_path / "published.duckdb", fabricated_tables(ngos=1, periods=("2025-Q3",)))
    other = tmp_path / "reports"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(SiteError, match="not an Outcome Hub site; give --out an empty folder"):
        build_site(tmp_path / "published.duckdb", other)
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_a_rebuild_replaces_the_previous_site_whole(tmp_path: Path) -> None:
    """Tests that building again over a previous site replaces it, leaving no stale NGO page."""
    published = tmp_path / "published.duckdb"
    write_published(published, fabricated_tables(ngos=2, periods=("2025-Q3",)))
    build_site(published, tmp_path / "site")
    assert (tmp_path / "site" / "ngos" / "ngo-0002.html").exists()
    write_published(published, fabricated_tables(ngos=1, periods=("2025-Q3",)))
    build_site(published, tmp_path / "site")
    assert not (tmp_path / "site" / "ngos" / "ngo-0002.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".site.building",
        "published.duckdb",
        "site",
    ]
    assert [p.name for p in (tmp_path / ".site.building").iterdir()] == ["lock"]


def test_outcomes_site_command_builds_and_prints_the_report_card(run_cli: Any, home: Home) -> None:
    """Tests that `outcomes site --home DIR` builds <home>/site and prints its report card's path,
    that it says what to do when nothing has been published, and that a folder that holds no
    hub is refused, not made into one."""
    not_a_hub = run_cli("site", "--home", home.root)
    assert not_a_hub.exit_code == 2
    assert "is not an Outcome Hub home" in " ".join(not_a_hub.output.split())
    assert not home.root.exists()
    home.create()
    empty = run_cli("site", "--home", home.root)
    assert empty.exit_code == 1
    assert "run `outcomes release` first" in empty.output
    write_published(home.published_db, fabricated_tables(ngos=2, periods=("2025-Q3",)))
    result = run_cli("site", "--home", home.root)
    assert result.exit_code == 0, result.output
    assert "Report card:" in result.output
    assert str(home.site / "index.html") in result.output.replace("\n", "")
    assert (home.site / "index.html").is_file()


def test_the_release_job_rebuilds_the_site_after_publishing() -> None:
    """Tests that funder_site is partitioned like the releases, downstream of published_release,
    and part of the release job."""
    import dagster as dg

    from pipelines.assets.partitions import periods
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    site = dg.AssetKey("funder_site")
    assert dg.AssetKey("published_release") in graph.get(site).parent_keys
    assert graph.get(site).partitions_def == periods
    job = defs.resolve_job_def("release")
    assert site in job.asset_layer.selected_asset_keys
