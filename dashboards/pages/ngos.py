"""NGO pages: one per NGO, its own released figures beside the pooled context, and an index of them.

Each NGO sees its data come back to it: its headline numbers with their
intervals, the same numbers for all NGOs together, its change in every domain,
its clients and sessions by programme, and the privacy budget its figures spent.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import pandas as pd

from dashboards import labels
from dashboards.charts import (
    Chart,
    Downloads,
    Row,
    Table,
    cell_row,
    frame_csv,
    make_chart,
    measure_chart,
    rows_csv,
)
from dashboards.figures import figure_json
from dashboards.page import Page, Section, Tile, tile
from dashboards.zone import Cell, Zone, neutralised
from pipelines.standard.names import check_ngo_id

HEADLINES = (
    ("ngo_clients_total", "clients_total"),
    ("ngo_sessions_total", "sessions_total"),
    ("ngo_sessions_per_client", "sessions_per_client_overall"),
    ("ngo_share_satisfied", "share_satisfied_overall"),
    ("ngo_share_paired", "share_paired_overall"),
    ("ngo_share_improved", "share_improved_overall"),
)
"""Each NGO measure with its pooled counterpart, as the release plan names them."""
SHARES = ("ngo_share_satisfied", "ngo_share_paired", "ngo_share_improved")
CHANGE = ("ngo_mean_change", "mean_change_by_domain_group")
"""This NGO's mean change by domain group, beside all NGOs'; both break down by ``domain_group``."""
BUDGET_COLUMNS = (
    "period",
    "budget_rho",
    "spent_rho",
    "left_rho",
    "budget_epsilon",
    "spent_epsilon",
)
BUDGET_NAMES = (
    "Period",
    "Budget (\u03c1)",
    "Spent (\u03c1)",
    "Left (\u03c1)",
    "Budget (\u03b5)",
    "Spent (\u03b5)",
)

YEAR_COLUMNS = (
    "year_window",
    "year_cap_rho",
    "year_spent_rho",
    "year_left_rho",
    "year_cap_epsilon",
    "year_spent_epsilon",
)
YEAR_NAMES = (
    "Four quarters",
    "Year cap (\u03c1)",
    "Spent in them (\u03c1)",
    "Left of the cap (\u03c1)",
    "Year cap (\u03b5)",
    "Spent in them (\u03b5)",
)


def year_cells(record: dict[str, Any]) -> tuple[str, ...]:
    """An NGO's rolling-year balance as table cells (dashes for a zone published without it)."""
    if pd.isna(record.get("year_window")):
        return ("\u2014",) * len(YEAR_COLUMNS)
    return (
        str(record["year_window"]),
        *(labels.number(record[c], "rho") for c in YEAR_COLUMNS[1:4]),
        *(f"{record[c]:.2f}" for c in YEAR_COLUMNS[4:]),
    )


def ngo_file(ngo_id: str) -> str:
    """The page's file name; an id that is not a valid NGO id never becomes a path."""
    try:
        return check_ngo_id(ngo_id)
    except ValueError:
        return "ngo-x" + hashlib.sha256(ngo_id.encode()).hexdigest()[:16]


def ngo_href(ngo_id: str) -> str:
    return f"ngos/{ngo_file(ngo_id)}.html"


def _context_note(zone: Zone, pooled: str) -> str:
    cell = zone.one(zone.pooled(pooled))
    if cell is None:
        return ""
    unit = zone.measure(pooled).unit
    if cell.withheld:
        return "All NGOs: withheld."
    return f"All NGOs: {labels.estimate(cell.value, cell.low, cell.high, unit)}."


def _tiles(zone: Zone, ngo_id: str) -> tuple[Tile, ...]:
    out = []
    for own, pooled in HEADLINES:
        if own not in zone.measures:
            continue
        made = tile(
            zone,
            own,
            zone.ngo(ngo_id, own),
            zone.ngo(ngo_id, own, zone.previous) if zone.previous else None,
        )
        out.append(
            Tile(
                made.title,
                made.value,
                made.interval,
                made.flag,
                made.reason,
                made.change,
                made.target,
                _context_note(zone, pooled) if pooled in zone.measures else made.note,
            )
        )
    return tuple(out)


def _beside(zone: Zone, downloads: Downloads, ngo_id: str, stem: str) -> list[Chart]:
    charts = []
    shares = [m for m in SHARES if m in zone.measures]
    pooled_of = dict(HEADLINES)
    if shares:
        charts.append(
            make_chart(
                zone,
                downloads,
                id="shares",
                download=f"{stem}.shares",
                title="Shares: this NGO beside all NGOs",
                caption="This NGO's shares next to the same shares across all NGOs, with 95% intervals.",
                category_title="Measure",
                categories=[zone.measure(m).title for m in shares],
                series=[
                    ("This NGO", [zone.one(zone.ngo(ngo_id, m)) for m in shares]),
                    ("All NGOs", [zone.one(zone.pooled(pooled_of[m])) for m in shares]),
                ],
                unit="share",
                value_title="Share of clients",
                bars=False,
                horizontal=True,
                series_title="Who",
            )
        )
    own, pooled = CHANGE
    own_cells = zone.ngo(ngo_id, own)
    pooled_cells = zone.pooled(pooled)
    if own_cells or pooled_cells:
        domains = labels.ordered(
            "domain_group", {c.keys.get("domain_group", "") for c in (*own_cells, *pooled_cells)}
        )
        mine = {c.keys.get("domain_group", ""): c for c in own_cells}
        everyone = {c.keys.get("domain_group", ""): c for c in pooled_cells}
        unit = zone.measure(own).unit if own in zone.measures else zone.measure(pooled).unit
        charts.append(
            make_chart(
                zone,
                downloads,
                id="mean-change",
                download=f"{stem}.mean-change",
                title="Mean change in score by domain group: this NGO beside all NGOs",
                caption="Average change between the first and the later assessment, averaged over the domains of each group.",
                category_title="Domain group",
                categories=[labels.value_label("domain_group", d) for d in domains],
                series=[
                    ("This NGO", [mine.get(d) for d in domains]),
                    ("All NGOs", [everyone.get(d) for d in domains]),
                ],
                unit=unit,
                value_title="Score points",
                bars=False,
                horizontal=True,
                series_title="Who",
            )
        )
    for measure, caption in (
        ("ngo_clients_by_programme", "Distinct clients this NGO served in each programme."),
        ("ngo_sessions_by_programme", "Sessions this NGO delivered in each programme."),
    ):
        made = measure_chart(
            zone,
            downloads,
            id=measure,
            download=f"{stem}.{measure}",
            measure=measure,
            cells=zone.ngo(ngo_id, measure),
            category="programme",
            caption=caption,
        )
        if made is not None:
            charts.append(made)
    return charts


def _budget_rows(record: dict[str, Any]) -> Row:
    return Row(
        (
            str(record["period"]),
            *(labels.number(record[c], "rho") for c in BUDGET_COLUMNS[1:4]),
            *(f"{record[c]:.2f}" for c in BUDGET_COLUMNS[4:]),
            *year_cells(record),
        )
    )


def ngo_page(
    zone: Zone,
    downloads: Downloads,
    ngo_id: str,
    budgets: list[dict[str, Any]],
    budget_csv: list[tuple[Any, ...]],
) -> Page:
    # Every NGO's downloads share one folder (downloads/ngos/ngo-0001.budget.csv): a folder per
    # NGO made creating 10,000 small files take 6 s on ext4, against half a second in one folder.
    stem = f"ngos/{ngo_file(ngo_id)}"
    sections = [
        Section(
            heading=f"Headline numbers, {zone.latest_label}",
            id="headlines",
            tiles=_tiles(zone, ngo_id),
        ),
        Section(
            heading="Beside all NGOs",
            id="beside",
            charts=tuple(_beside(zone, downloads, ngo_id, stem)),
        ),
    ]
    if len(zone.periods) > 1:
        rows = []
        shown: list[Cell] = []
        for period in zone.periods:
            for own, _pooled in HEADLINES:
                cell = zone.one(zone.ngo(ngo_id, own, period))
                if cell is None:
                    continue
                shown.append(cell)
                info = zone.measure(own)
                rows.append(cell_row((period, info.title), cell, info.unit))
        table = Table(
            "This NGO's headline numbers in every period",
            ("Period", "Measure", "Value", "95% interval", "Reliability"),
            tuple(rows),
        )
        sections.append(
            Section(
                heading="Across periods",
                id="periods",
                tables=((table, downloads.add(f"{stem}.periods", zone.csv_text(shown))),),
            )
        )
    if budgets:
        table = Table(
            "Privacy budget set, spent and left in each period, and over the busiest four "
            "quarters that include it (exact)",
            (*BUDGET_NAMES, *YEAR_NAMES),
            tuple(_budget_rows(r) for r in budgets),
        )
        csv = downloads.add(
            f"{stem}.budget",
            rows_csv(("ngo_id", *BUDGET_COLUMNS, *YEAR_COLUMNS)[: len(budget_csv[0])], budget_csv),
        )
        sections.append(
            Section(
                heading="Privacy budget",
                id="budget",
                intro=(
                    "How much of this NGO's privacy budget its released figures have spent. "
                    "These are exact bookkeeping numbers.",
                ),
                tables=((table, csv),),
            )
        )
    name = zone.name(ngo_id)
    registered = zone.ngos.get(ngo_id)
    facts = []
    if registered is not None and registered.programmes:
        facts.append(
            "Funded for "
            + ", ".join(labels.value_label("programme", p) for p in registered.programmes)
            + (
                " in " + ", ".join(labels.value_label("region", r) for r in registered.regions)
                if registered.regions
                else ""
            )
            + "."
        )
    status = zone.status(ngo_id)
    if status:
        facts.append(f"Submission for {zone.latest_label}: {status}.")
    return Page(
        ngo_href(ngo_id),
        name,
        "ngos",
        intro=(
            f"{name}'s own released figures for {zone.latest_label}, beside the same figures for "
            "all NGOs together. Every number is differentially private and carries its 95% "
            "interval." + (f" (Register id {ngo_id}.)" if name != ngo_id else ""),
            *facts,
        ),
        sections=tuple(sections),
    )


INDEX_ROWS_IN_HTML = 100
"""NGOs written into the index's table itself (for readers without JavaScript); the filter
draws every NGO from the page's compact JSON, so 2,000 NGOs stay well under the page budget."""
STATUSES = ("submitted", "late", "not submitted", "")


def _clients(zone: Zone, ngo_id: str) -> str:
    cell = zone.one(zone.ngo(ngo_id, "ngo_clients_total"))
    if cell is None:
        return "\u2014"
    if cell.withheld:
        return "withheld"
    return labels.estimate(cell.value, cell.low, cell.high, zone.measure("ngo_clients_total").unit)


def index_page(zone: Zone, downloads: Downloads, with_pages: list[str]) -> Page:
    """Every NGO, named, with a filter box: programmes, regions, clients served this quarter
    with its interval, and whether it submitted this quarter."""
    ids = sorted(set(with_pages) | set(zone.ngos), key=lambda n: (zone.name(n).lower(), n))
    paged = set(with_pages)
    programmes: dict[str, int] = {}
    regions: dict[str, int] = {}
    rows: list[list[Any]] = []
    html_rows: list[Row] = []
    csv_rows: list[dict[str, Any]] = []
    for ngo_id in ids:
        info = zone.ngos.get(ngo_id)
        progs = info.programmes if info else ()
        regs = info.regions if info else ()
        status = zone.status(ngo_id)
        clients = _clients(zone, ngo_id)
        file = ngo_file(ngo_id) if ngo_id in paged else ""
        rows.append(
            [
                zone.name(ngo_id),
                file,
                [programmes.setdefault(p, len(programmes)) for p in progs],
                [regions.setdefault(r, len(regions)) for r in regs],
                clients,
                STATUSES.index(status) if status in STATUSES else len(STATUSES) - 1,
            ]
        )
        names_p = ", ".join(labels.value_label("programme", p) for p in progs)
        names_r = ", ".join(labels.value_label("region", r) for r in regs)
        csv_rows.append(
            {
                "ngo_id": ngo_id,
                "name": zone.name(ngo_id),
                "programmes": names_p,
                "regions": names_r,
                "submission_status": status,
            }
        )
        if len(html_rows) < INDEX_ROWS_IN_HTML:
            html_rows.append(
                Row(
                    (zone.name(ngo_id), names_p, names_r, clients, status or "\u2014"),
                    href=ngo_href(ngo_id) if file else "",
                )
            )
    data = {
        "prefix": "ngos/",
        "programmes": [labels.value_label("programme", p) for p in programmes],
        "regions": [labels.value_label("region", r) for r in regions],
        "statuses": [s or "\u2014" for s in STATUSES],
        "rows": rows,
    }
    table = Table(
        f"Every NGO, {zone.latest_label}",
        (
            "NGO",
            "Programmes",
            "Regions",
            "Clients served (95% interval)",
            f"Submission, {zone.latest_label}",
        ),
        tuple(html_rows),
    )
    csv = downloads.add("ngos/index", frame_csv(pd.DataFrame(csv_rows)))
    return Page(
        "ngos.html",
        "NGOs",
        "ngos",
        intro=(
            f"Every NGO in the register or in a release ({len(ids):,} in all), by name: the "
            "programmes and regions it is funded for (public facts from the NGO register), the "
            f"clients it served in {zone.latest_label} with the 95% interval, and whether it "
            "submitted its extract for the quarter. Type in the box to find an NGO by name, "
            "programme, region or status.",
        ),
        template="ngos.html.j2",
        extra={
            "table": table,
            "csv": csv,
            "data": figure_json(data),
            "total": len(ids),
            "in_html": len(html_rows),
        },
    )


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    ids = zone.ngo_ids
    budgets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    budget_csv: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    frame = zone.budgets.sort_values(["period", "ngo_id"])[
        ["ngo_id", *BUDGET_COLUMNS, *(c for c in YEAR_COLUMNS if c in zone.budgets)]
    ]
    safe = neutralised(frame)
    for record, row in zip(
        frame.to_dict("records"), safe.itertuples(index=False, name=None), strict=True
    ):
        budgets[str(record["ngo_id"])].append(record)
        budget_csv[str(record["ngo_id"])].append(row)
    return [
        index_page(zone, downloads, ids),
        *(ngo_page(zone, downloads, n, budgets.get(n, []), budget_csv.get(n, [])) for n in ids),
    ]
