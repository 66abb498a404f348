"""Outcomes: is anyone better off? Mean change and share improved per domain, and the distribution of change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards import figures, labels
from dashboards.charts import Chart, Downloads, Row, assemble, cell_row, measure_chart
from dashboards.page import Page, Section, tile
from dashboards.zone import Cell, Zone


def small_multiples(
    panels: Sequence[tuple[str, Sequence[str], Sequence[Cell | None]]],
    unit: str,
    *,
    columns: int = 4,
    category_title: str = "",
) -> dict[str, Any]:
    """One small bar chart per panel (e.g. the distribution of change in each domain), shared scales."""
    rows = max(1, -(-len(panels) // columns))
    gap_x, gap_y = 0.04, 0.09
    width = (1 - gap_x * (columns - 1)) / columns
    height = (1 - gap_y * (rows - 1)) / rows
    data: list[dict[str, Any]] = []
    out: dict[str, Any] = {
        "height": 190 * rows + 60,
        "margin": {"l": 45, "r": 10, "t": 30, "b": 40},
        "font": {"family": figures.FONT, "size": 12, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": False,
        "hovermode": "closest",
        "annotations": [],
    }
    top = max(
        (
            c.high or c.value or 0.0
            for _t, _c, cs in panels
            for c in cs
            if c is not None and not c.withheld
        ),
        default=1.0,
    )
    for i, (title, categories, cells) in enumerate(panels):
        n = "" if i == 0 else str(i + 1)
        col, row = i % columns, i // columns
        x0 = col * (width + gap_x)
        y1 = 1 - row * (height + gap_y)
        data += figures.interval_traces(
            title, categories, cells, unit, colour_index=0, bars=True, horizontal=False, axis=n
        )
        out[f"xaxis{n}"] = {
            "domain": [x0, x0 + width],
            "anchor": f"y{n}",
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [figures.esc(c) for c in categories],
            "tickfont": {"size": 10},
            "title": {
                "text": figures.esc(category_title) if row == rows - 1 else "",
                "font": {"size": 11},
            },
        }
        out[f"yaxis{n}"] = {
            "domain": [y1 - height, y1],
            "anchor": f"x{n}",
            "range": [0, top * 1.05],
            "gridcolor": "#e5e5e5",
            "tickformat": ",d",
            "tickfont": {"size": 10},
        }
        out["annotations"] += [
            figures.withheld_label(j, False, n)
            for j, cell in enumerate(cells)
            if cell is not None and cell.withheld
        ]
        out["annotations"].append(
            {
                "text": f"<b>{figures.esc(title)}</b>",
                "x": x0 + width / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12},
            }
        )
    return {"data": data, "layout": out, "config": figures.CONFIG}


def distribution_chart(
    zone: Zone, downloads: Downloads, measure: str = "change_distribution"
) -> Chart | None:
    """One small bar chart per domain: how many clients' scores moved by −4 … +4, each with its interval."""
    cells = zone.pooled(measure)
    if not cells:
        return None
    info = zone.measure(measure)
    domains = labels.ordered("domain", {c.keys.get("domain", "") for c in cells})
    changes = labels.ordered("change", {c.keys.get("change", "") for c in cells})
    index = {(c.keys.get("domain", ""), c.keys.get("change", "")): c for c in cells}
    change_labels = [labels.value_label("change", v) for v in changes]
    panels: list[tuple[str, list[str], list[Cell | None]]] = []
    rows: list[Row] = []
    shown: list[Cell] = []
    items: list[tuple[str, Cell | None]] = []
    for domain in domains:
        name = labels.value_label("domain", domain)
        row_cells = [index.get((domain, v)) for v in changes]
        panels.append((name, change_labels, row_cells))
        for change, cell in zip(change_labels, row_cells, strict=True):
            rows.append(cell_row((name, change), cell, info.unit))
            items.append((f"{name} {change}", cell))
            if cell is not None:
                shown.append(cell)
    figure = small_multiples(panels, info.unit, category_title="Change in score (post \u2212 pre)")
    return assemble(
        zone,
        downloads,
        id=measure,
        download=f"outcomes/{measure}",
        title=f"{info.title}, by domain",
        caption=(
            "For each domain, how many clients' scores went down (left of 0), stayed the same (0) "
            "or went up (right of 0) between the first and the later assessment."
        ),
        figure=figure,
        columns=("Outcome domain", "Change in score"),
        rows=rows,
        shown=shown,
        items=items,
    )


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    def chart(measure: str, caption: str, series: str | None = None) -> Chart | None:
        return measure_chart(
            zone,
            downloads,
            id=measure,
            download=f"outcomes/{measure}",
            measure=measure,
            cells=zone.pooled(measure),
            category="domain",
            series=series,
            caption=caption,
            horizontal=True,
        )

    by_domain = tuple(
        c
        for c in (
            chart(
                "mean_change_by_domain",
                "Average change in score (later assessment minus first, on a 1–5 scale) in each "
                "domain, across all programmes. Above 0 means scores rose on average.",
            ),
            chart(
                "share_improved_by_domain",
                "Share of clients assessed twice whose score in the domain went up.",
            ),
        )
        if c is not None
    )
    by_programme = tuple(
        c
        for c in (
            chart(
                "mean_change",
                "Average change in score in each domain, for each programme. Error bars are 95% intervals.",
                series="programme",
            ),
            chart(
                "share_improved",
                "Share of clients assessed twice whose score went up, by domain and programme.",
                series="programme",
            ),
        )
        if c is not None
    )
    distribution = distribution_chart(zone, downloads)
    rose_and_fell = tuple(
        tile(
            zone,
            m,
            zone.pooled(m),
            zone.pooled(m, zone.previous) if zone.previous else None,
            title=t,
        )
        for m, t in (
            ("share_improved_overall", "Share of clients whose scores rose"),
            ("share_worse_overall", "Share of clients whose scores fell"),
        )
        if m in zone.measures
    )
    sections = [
        Section(heading="Change in each domain", id="by-domain", charts=by_domain),
        Section(heading="Change by domain and programme", id="by-programme", charts=by_programme),
    ]
    if rose_and_fell:
        sections.insert(
            0,
            Section(
                heading="Scores that rose, and scores that fell",
                id="rose-and-fell",
                intro=(
                    "Of the clients assessed twice, the share whose score went up and the share "
                    "whose score went down. A rise for many can sit beside a fall for some; both "
                    "are shown."
                    + (
                        ""
                        if "share_worse_overall" in zone.measures
                        else " This release does not publish the share whose scores fell."
                    ),
                ),
                tiles=rose_and_fell,
            ),
        )
    if distribution is not None:
        sections.append(
            Section(
                heading="The distribution of change, not only its mean",
                id="distribution",
                intro=(
                    "A mean can hide clients whose scores fell. These charts show every step of change.",
                ),
                charts=(distribution,),
            )
        )
    return [
        Page(
            "outcomes.html",
            "Outcomes",
            "outcomes",
            intro=(
                f"Is anyone better off? Change in clients' assessed scores in {zone.latest_label}, "
                "by outcome domain and programme, with 95% intervals.",
            ),
            sections=tuple(sections),
        )
    ]
