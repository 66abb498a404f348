"""A chart is a figure, the table of exactly its cells, and a CSV download of the same cells.

Every chart of the site is made here, so every chart follows the same rules:
each noisy value has its 95% interval (error bars, and a column in the table),
``low`` cells are marked, ``withheld`` cells are named with their reason and
never plotted, and the download holds exactly the cells the chart shows.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboards import figures, labels
from dashboards.zone import Cell, Zone
from pipelines.published.export import neutralise_formulas

_MAX_NAMED = 12


@dataclass(frozen=True)
class Row:
    """One table row, already formatted; ``flag`` marks low or withheld rows for the eye."""

    cells: tuple[str, ...]
    flag: str = ""
    href: str = ""


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    figure: str
    """The figure's JSON, safe inside a ``<script>`` element."""
    table: Table
    csv: str
    """The download's path relative to the site root."""
    notes: tuple[str, ...] = ()
    has_low: bool = False
    not_noisy: str = ""
    """For charts of numbers without privacy noise, the sentence that says so (and why no interval)."""
    alt: str = ""


@dataclass
class Downloads:
    """CSV files to write under ``downloads/``, collected while pages are built."""

    files: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> str:
        path = f"downloads/{name}.csv"
        if path in self.files and self.files[path] != text:
            raise ValueError(f"two different downloads are both called {path}")
        self.files[path] = text
        return path


def frame_csv(frame: pd.DataFrame) -> str:
    """A small table (budgets, ledger, counts) as CSV, with spreadsheet formulas neutralised."""
    return str(neutralise_formulas(frame).to_csv(index=False, lineterminator="\n"))


def rows_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows that are already neutralised (see :func:`dashboards.zone.neutralised`) as CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def reliability_text(cell: Cell | None) -> str:
    if cell is None:
        return "not in this release"
    if cell.withheld:
        return f"withheld: {cell.reason or 'no reason given'}"
    return cell.reliability


def cell_row(head: Sequence[str], cell: Cell | None, unit: str, href: str = "") -> Row:
    """A table row for one cell: its keys, value, 95% interval and reliability."""
    if cell is None or cell.withheld:
        value, band = ("withheld" if cell is not None else "\u2014"), "\u2014"
    else:
        value = labels.number(cell.value, unit)
        band = labels.plus_minus(cell.value, cell.low, cell.high, unit)
    flag = "" if cell is None else ("withheld" if cell.withheld else cell.reliability)
    return Row((*head, value, band, reliability_text(cell)), "" if flag == "ok" else flag, href)


def withheld_notes(items: Sequence[tuple[str, Cell | None]]) -> tuple[str, ...]:
    """ "Withheld, not plotted (reason): A, B, C …" — one note per reason, so nothing goes silently missing."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for name, cell in items:
        if cell is not None and cell.withheld:
            by_reason[cell.reason or "no reason given"].append(name)
    notes = []
    for reason, names in by_reason.items():
        shown = ", ".join(names[:_MAX_NAMED])
        more = (
            f" and {len(names) - _MAX_NAMED} more (see the table)"
            if len(names) > _MAX_NAMED
            else ""
        )
        count = f"{len(names)} cell{'s' if len(names) != 1 else ''}"
        notes.append(f"Withheld, not plotted \u2014 {count}, {reason}: {shown}{more}.")
    return tuple(notes)


def make_chart(
    zone: Zone,
    downloads: Downloads,
    *,
    id: str,
    download: str,
    title: str,
    caption: str,
    category_title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Cell | None]]],
    unit: str,
    value_title: str,
    bars: bool,
    horizontal: bool | None = None,
    target: float | None = None,
    links: Sequence[str] | None = None,
    series_title: str = "",
) -> Chart:
    """The one way a chart of published cells is made: figure, table, notes and download."""
    if horizontal is None:
        horizontal = len(categories) > 6 or max((len(c) for c in categories), default=0) > 14
    single = len(series) == 1
    per_series = [
        figures.interval_traces(
            name,
            categories,
            cells,
            unit,
            colour_index=i,
            bars=bars,
            horizontal=horizontal,
            links=links,
        )
        for i, (name, cells) in enumerate(series)
    ]
    withheld_categories = (
        [i for i, cell in enumerate(series[0][1]) if cell is not None and cell.withheld]
        if single
        else []
    )
    layout = figures.layout(
        categories=categories,
        category_title=category_title,
        unit=unit,
        value_title=value_title,
        horizontal=horizontal,
        series=len(series),
        bars=bars,
        target=target,
        withheld=withheld_categories,
    )
    # A series that is withheld throughout still shows in the legend, saying so.
    for traces_, (_name, cells) in zip(per_series, series, strict=True):
        if not single and cells and all(c is None or c.withheld for c in cells):
            traces_[0]["name"] += " (withheld)"
            for trace in traces_:
                trace["visible"] = "legendonly"
    traces = [t for ts in per_series for t in ts]
    figure: dict[str, Any] = {"data": traces, "layout": layout, "config": figures.CONFIG}
    if links:
        figure["links"] = True

    rows: list[Row] = []
    shown: list[Cell] = []
    items: list[tuple[str, Cell | None]] = []
    for name, cells in series:
        for i, (cat, cell) in enumerate(zip(categories, cells, strict=True)):
            head = (cat,) if single else (cat, name)
            rows.append(cell_row(head, cell, unit, links[i] if links and single else ""))
            items.append((cat if single else f"{name} \u00d7 {cat}", cell))
            if cell is not None:
                shown.append(cell)
    head_columns = (category_title,) if single else (category_title, series_title or "Series")
    return assemble(
        zone,
        downloads,
        id=id,
        download=download,
        title=title,
        caption=caption,
        figure=figure,
        columns=head_columns,
        rows=rows,
        shown=shown,
        items=items,
    )


def assemble(
    zone: Zone,
    downloads: Downloads,
    *,
    id: str,
    download: str,
    title: str,
    caption: str,
    figure: dict[str, Any],
    columns: Sequence[str],
    rows: Sequence[Row],
    shown: Sequence[Cell],
    items: Sequence[tuple[str, Cell | None]],
) -> Chart:
    """A chart from its figure and rows: the table, the withheld notes and the download of ``shown``."""
    table = Table(
        caption=f"{title}: values with their 95% intervals",
        columns=(*columns, "Value", "95% interval", "Reliability"),
        rows=tuple(rows),
    )
    return Chart(
        id=id,
        title=title,
        caption=caption,
        figure=figures.figure_json(figure),
        table=table,
        csv=downloads.add(download, zone.csv_text(shown)),
        notes=withheld_notes(items),
        has_low=any(c.reliability == "low" for c in shown if not c.withheld),
        alt=f"Chart: {title}. The same numbers are in the table below it.",
    )


def measure_chart(
    zone: Zone,
    downloads: Downloads,
    *,
    id: str,
    download: str,
    measure: str,
    cells: Sequence[Cell],
    category: str,
    series: str | None = None,
    caption: str,
    title: str | None = None,
    links: dict[str, str] | None = None,
    horizontal: bool | None = None,
) -> Chart | None:
    """A chart of one measure's cells, broken down by one dimension (and optionally a second as series)."""
    if not cells:
        return None
    info = zone.measure(measure)
    category_values = labels.ordered(category, {c.keys.get(category, "") for c in cells})
    series_values = (
        labels.ordered(series, {c.keys.get(series, "") for c in cells}) if series else [""]
    )
    index = {(c.keys.get(category, ""), c.keys.get(series, "") if series else ""): c for c in cells}
    return make_chart(
        zone,
        downloads,
        id=id,
        download=download,
        title=title or info.title,
        caption=caption,
        category_title=labels.dimension_name(category),
        categories=[labels.value_label(category, v) for v in category_values],
        series=[
            (
                labels.value_label(series, s) if series else info.title,
                [index.get((v, s)) for v in category_values],
            )
            for s in series_values
        ],
        unit=info.unit,
        value_title=info.unit.capitalize() if info.unit != "share" else "Share",
        bars=info.kind != "ratio",
        horizontal=horizontal,
        target=info.target,
        links=[links.get(v, "") for v in category_values] if links else None,
        series_title=labels.dimension_name(series) if series else "",
    )


def exact_chart(
    downloads: Downloads,
    *,
    id: str,
    download: str,
    title: str,
    caption: str,
    frame: pd.DataFrame,
    category: str,
    values: Sequence[str],
    names: dict[str, str],
    value_title: str,
    stacked: bool = True,
) -> Chart:
    """A bar chart of exact bookkeeping numbers (budgets, submissions, flag counts): no noise, no interval."""
    categories = [str(v) for v in frame[category]]
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": figures.esc(names.get(col, col)),
            "x": [figures.esc(c) for c in categories],
            "y": [None if pd.isna(v) else float(v) for v in frame[col]],
            "marker": {"color": figures.colour(i)},
            "hovertemplate": f"{figures.esc(names.get(col, col))}: %{{y:,}}<extra>%{{x}}</extra>",
        }
        for i, col in enumerate(values)
    ]
    layout = {
        "height": 320,
        "margin": {"l": 10, "r": 20, "t": 10, "b": 10},
        "font": {"family": figures.FONT, "size": 13, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "barmode": "stack" if stacked else "group",
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "xaxis": figures.category_axis(categories, names.get(category, category), False),
        "yaxis": {
            "title": {"text": figures.esc(value_title)},
            "rangemode": "tozero",
            "gridcolor": "#e5e5e5",
            "automargin": True,
        },
    }
    columns = (category, *values)
    table = Table(
        caption=f"{title} (exact numbers)",
        columns=tuple(names.get(c, c) for c in columns),
        rows=tuple(
            Row(tuple(_exact(r[c]) for c in columns))
            for r in frame[list(columns)].to_dict("records")
        ),
    )
    return Chart(
        id=id,
        title=title,
        caption=caption,
        figure=figures.figure_json({"data": traces, "layout": layout, "config": figures.CONFIG}),
        table=table,
        csv=downloads.add(download, frame_csv(frame[list(columns)])),
        not_noisy="Exact numbers, not estimates: no interval.",
        alt=f"Chart: {title}. The same numbers are in the table below.",
    )


def _exact(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
