"""Trends: every headline measure across all released periods, each with its 95% band."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dashboards import figures, labels
from dashboards.charts import Chart, Downloads, Row, Table, assemble, cell_row, frame_csv
from dashboards.page import CHANGE_RULE, Page, Section, change_between, verdict
from dashboards.zone import Cell, Zone
from pipelines.standard.periods import Period


def trend_traces(
    name: str, periods: Sequence[str], cells: Sequence[Cell | None], unit: str, colour_index: int
) -> list[dict[str, Any]]:
    """A measure across periods: a shaded 95% band, then the line with error bars on top."""
    values = [None if c is None or c.withheld else c.value for c in cells]
    lows = [None if c is None or c.withheld else c.low for c in cells]
    highs = [None if c is None or c.withheld else c.high for c in cells]
    plus, minus = figures.errors(cells)
    x = [figures.esc(p) for p in periods]
    band_colour = figures.colour(colour_index)
    band = [
        {
            "type": "scatter",
            "x": x,
            "y": highs,
            "mode": "lines",
            "line": {"width": 0, "color": band_colour},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "x": x,
            "y": lows,
            "mode": "lines",
            "line": {"width": 0, "color": band_colour},
            "fill": "tonexty",
            "fillcolor": figures.translucent(band_colour, 0.15),
            "hoverinfo": "skip",
            "name": "95% interval",
            "showlegend": False,
        },
    ]
    line = {
        "type": "scatter",
        "name": figures.esc(name),
        "x": x,
        "y": values,
        "mode": "lines+markers",
        "line": {"color": band_colour, "width": 2},
        "marker": {
            "color": band_colour,
            "size": 9,
            "symbol": [
                "circle-open" if c is not None and c.reliability == "low" else "circle"
                for c in cells
            ],
        },
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "color": figures.GREY,
            "thickness": 1.5,
            "width": 4,
        },
        "customdata": [
            figures.hover(f"{name} \u2014 {p}", c, unit)
            for p, c in zip(periods, cells, strict=True)
        ],
        "hovertemplate": "%{customdata}<extra></extra>",
        "connectgaps": False,
    }
    return [*band, line]


def trend_layout(
    periods: Sequence[str], unit: str, value_title: str, target: float | None
) -> dict[str, Any]:
    out = figures.layout(
        categories=periods,
        category_title="Period",
        unit=unit,
        value_title=value_title,
        horizontal=False,
        series=1,
        bars=False,
        target=target,
    )
    out["height"] = 320
    return out


def quarters(zone: Zone) -> list[str]:
    """Every calendar quarter from the first released to the latest, gaps included, so a
    quarter with no release shows as a gap on the axis rather than vanishing."""
    if not zone.periods:
        return []
    first, last = Period.parse(zone.periods[0]), Period.parse(zone.periods[-1])
    return [str(p) for p in first.through(last)]


def gaps(zone: Zone) -> list[str]:
    return [q for q in quarters(zone) if q not in zone.periods]


def trend_chart(zone: Zone, downloads: Downloads, measure: str) -> Chart | None:
    periods = quarters(zone)
    cells = [zone.one(zone.pooled(measure, p)) if p in zone.periods else None for p in periods]
    if not any(cells):
        return None
    info = zone.measure(measure)
    traces = trend_traces(info.title, periods, cells, info.unit, 0)
    layout = trend_layout(
        periods, info.unit, info.unit.capitalize() if info.unit != "share" else "Share", info.target
    )
    released = [(p, c) for p, c in zip(periods, cells, strict=True) if p in zone.periods]
    rows: list[Row] = [cell_row((p,), c, info.unit) for p, c in released]
    shown: list[Cell] = [c for _, c in released if c is not None]
    missing = gaps(zone)
    caption = (
        "Each quarter's published value; the shaded band and the error bars are its 95% interval."
    )
    if len(zone.periods) == 1:
        caption += " Only one quarter has been released so far."
    if missing:
        caption += f" No release for {', '.join(missing)}: the line breaks there."
    return assemble(
        zone,
        downloads,
        id=measure,
        download=f"trends/{measure}",
        title=info.title,
        caption=caption,
        figure={"data": traces, "layout": layout, "config": figures.CONFIG},
        columns=("Period",),
        rows=rows,
        shown=shown,
        items=released,
    )


def _change_cell(zone: Zone, measure: str, before: str | None, back: int) -> str:
    if zone.latest is None:
        return "\u2014"
    wanted = str(Period.parse(zone.latest).back(back))
    if before is None:
        return f"not released in {wanted}"
    info = zone.measure(measure)
    change = change_between(zone.one(zone.pooled(measure)), zone.one(zone.pooled(measure, before)))
    if change is None:
        return f"withheld in {before} or {zone.latest}"
    return f"{labels.change(change[0], change[1], info.unit)} ({verdict(change)})"


def change_table(zone: Zone, downloads: Downloads, measures: list[str]) -> tuple[Table, str]:
    """Each headline measure now, and its change since the quarter before and the same quarter
    a year before, with the change's 95% interval."""
    quarter, year = zone.quarter_before(1), zone.quarter_before(4)
    rows = []
    numbers: list[dict[str, object]] = []
    for measure in measures:
        for before in (quarter, year):
            found = (
                change_between(
                    zone.one(zone.pooled(measure)), zone.one(zone.pooled(measure, before))
                )
                if before
                else None
            )
            if found is not None:
                numbers.append(
                    {
                        "measure": measure,
                        "period": zone.latest,
                        "compared_with": before,
                        "change": found[0],
                        "ci95_halfwidth": found[1],
                    }
                )
        info = zone.measure(measure)
        cell = zone.one(zone.pooled(measure))
        now = (
            "withheld"
            if cell is None or cell.withheld
            else labels.estimate(cell.value, cell.low, cell.high, info.unit)
        )
        rows.append(
            Row(
                (
                    info.title,
                    now,
                    _change_cell(zone, measure, quarter, 1),
                    _change_cell(zone, measure, year, 4),
                )
            )
        )
    columns = (
        "Measure",
        f"{zone.latest_label} (95% interval)",
        "Change since the quarter before",
        "Change since the same quarter a year before",
    )
    table = Table(
        f"Change in each headline measure up to {zone.latest_label}", columns, tuple(rows)
    )
    frame = pd.DataFrame(
        numbers, columns=["measure", "period", "compared_with", "change", "ci95_halfwidth"]
    )
    return table, downloads.add("trends/changes", frame_csv(frame))


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    sections = []
    every: list[str] = []
    for question in labels.QUESTIONS:
        every.extend(zone.headlines(question))
        charts = tuple(
            c for c in (trend_chart(zone, downloads, m) for m in zone.headlines(question)) if c
        )
        if charts:
            sections.append(Section(heading=labels.QUESTIONS[question], id=question, charts=charts))
    if every and zone.periods:
        sections.insert(
            0,
            Section(
                heading="What changed",
                id="changes",
                intro=(CHANGE_RULE,),
                tables=(change_table(zone, downloads, every),),
            ),
        )
    span = f"{zone.periods[0]} to {zone.periods[-1]}" if zone.periods else "no period yet"
    if len(zone.periods) == 1:
        span = f"only {zone.periods[0]} so far"
    missing = gaps(zone)
    intro = (
        f"The headline measures in every released quarter ({span}), from each quarter's "
        "current release. A change between two quarters is clear only when it is larger than "
        "the two intervals together allow."
    )
    if missing:
        intro += f" No quarter was released for {', '.join(missing)}."
    return [Page("trends.html", "Trends", "trends", intro=(intro,), sections=tuple(sections))]
