"""Trends: every headline measure across all released periods, each with its 95% band."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards import figures, labels
from dashboards.charts import Chart, Downloads, Row, assemble, cell_row
from dashboards.page import Page, Section
from dashboards.zone import Cell, Zone


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


def trend_chart(zone: Zone, downloads: Downloads, measure: str) -> Chart | None:
    periods = list(zone.periods)
    cells = [zone.one(zone.pooled(measure, p)) for p in periods]
    if not any(cells):
        return None
    info = zone.measure(measure)
    traces = trend_traces(info.title, periods, cells, info.unit, 0)
    layout = trend_layout(
        periods, info.unit, info.unit.capitalize() if info.unit != "share" else "Share", info.target
    )
    rows: list[Row] = [cell_row((p,), c, info.unit) for p, c in zip(periods, cells, strict=True)]
    shown: list[Cell] = [c for c in cells if c is not None]
    return assemble(
        zone,
        downloads,
        id=measure,
        download=f"trends/{measure}",
        title=info.title,
        caption=(
            "Each period's published value; the shaded band and the error bars are its 95% interval."
            + (" Only one period has been released so far." if len(periods) == 1 else "")
        ),
        figure={"data": traces, "layout": layout, "config": figures.CONFIG},
        columns=("Period",),
        rows=rows,
        shown=shown,
        items=list(zip(periods, cells, strict=True)),
    )


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    sections = []
    for question in labels.QUESTIONS:
        charts = tuple(
            c for c in (trend_chart(zone, downloads, m) for m in zone.headlines(question)) if c
        )
        if charts:
            sections.append(Section(heading=labels.QUESTIONS[question], id=question, charts=charts))
    span = f"{zone.periods[0]} to {zone.periods[-1]}" if zone.periods else "no period yet"
    return [
        Page(
            "trends.html",
            "Trends",
            "trends",
            intro=(
                f"The headline measures in every released period ({span}), from each period's "
                "current release. A change between two periods is clear only when it is larger than "
                "the two intervals together allow.",
            ),
            sections=tuple(sections),
        )
    ]
