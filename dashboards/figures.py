"""Plotly figures as plain dicts: bars and dots with 95% error bars, trends, small multiples.

Figures are built as dicts and serialised with :func:`figure_json`, not as
``plotly.graph_objects`` figures: validating thousands of figures for a
national site would cost more than building the pages. Every text that reaches
Plotly is HTML-escaped (Plotly renders a subset of HTML in labels), and the
JSON is made safe to sit inside a ``<script>`` element.

Colours are the Okabe–Ito palette, distinguishable with the common forms of
colour blindness; ``low`` cells are also marked by shape (hatched bars, open
dots), never by colour alone.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from dashboards import labels
from dashboards.zone import Cell

PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#000000",  # black
    "#F0E442",  # yellow (last: low contrast on white)
)
LOW_PATTERN = "/"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}
GREY = "#555555"


def esc(text: str) -> str:
    """Text for Plotly, which renders a subset of HTML: ``<script>`` shows as text, never runs."""
    return html.escape(str(text), quote=False)


def figure_json(figure: dict[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</``, ``<!--`` or ``]]>``."""
    text = json.dumps(figure, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def translucent(hex_colour: str, alpha: float) -> str:
    """``#0072B2`` -> ``rgba(0,114,178,0.15)``: a band in the colour of its line."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def hover(name: str, cell: Cell | None, unit: str) -> str:
    """What a reader sees on hover: the value, its interval and its flag."""
    if cell is None:
        return f"{esc(name)}: not in this release"
    if cell.withheld:
        return f"{esc(name)}: withheld ({esc(cell.reason or 'no reason given')})"
    text = (
        f"{esc(name)}: <b>{esc(labels.number(cell.value, unit))}</b><br>"
        f"95% interval {esc(labels.plus_minus(cell.value, cell.low, cell.high, unit))}"
    )
    if cell.reliability == "low":
        text += "<br>low reliability: read with care"
    return text


def errors(cells: Sequence[Cell | None]) -> tuple[list[float | None], list[float | None]]:
    plus: list[float | None] = []
    minus: list[float | None] = []
    for c in cells:
        if c is None or c.withheld or c.value is None or c.low is None or c.high is None:
            plus.append(None)
            minus.append(None)
        else:
            plus.append(max(c.high - c.value, 0.0))
            minus.append(max(c.value - c.low, 0.0))
    return plus, minus


def interval_traces(
    name: str,
    categories: Sequence[str],
    cells: Sequence[Cell | None],
    unit: str,
    *,
    colour_index: int,
    bars: bool,
    horizontal: bool,
    links: Sequence[str] | None = None,
    axis: str = "",
) -> list[dict[str, Any]]:
    """One series: a bar (counts) or dot (ratios) per category, with asymmetric 95% error bars.

    Two traces share the series' place and legend entry: the cells flagged ok, drawn
    solid, and the ``low`` cells, hatched or open (so the legend never shows a whole
    series as low). Withheld cells are ``null`` in both: not plotted, never zero.
    """
    labels_ = [esc(c) for c in categories]
    hrefs = list(links) if links else [""] * len(categories)
    where = "%{y}" if horizontal else "%{x}"
    template = (
        f"<b>%{{fullData.name}}</b><br>{where}: %{{customdata[0]}}"
        "<br>95% interval %{customdata[1]}<extra></extra>"
    )
    group = f"{axis}:{colour_index}"
    traces = []
    for low in (False, True):
        chosen = [
            c if c is not None and not c.withheld and (c.reliability == "low") == low else None
            for c in cells
        ]
        values = [None if c is None else c.value for c in chosen]
        custom = [
            None
            if c is None
            else [
                esc(labels.number(c.value, unit)),
                esc(labels.plus_minus(c.value, c.low, c.high, unit)),
                href,
            ]
            for c, href in zip(chosen, hrefs, strict=True)
        ]
        plus, minus = errors(chosen)
        error = {
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "color": GREY,
            "thickness": 1.5,
            "width": 4,
            "visible": True,
        }
        trace: dict[str, Any] = {
            "type": "bar" if bars else "scatter",
            "name": esc(name) + (" (low reliability)" if low else ""),
            "legendgroup": group,
            "offsetgroup": group,
            "showlegend": not low,
            "x": values if horizontal else labels_,
            "y": labels_ if horizontal else values,
            "orientation": "h" if horizontal else "v",
            "customdata": custom,
            "hovertemplate": template,
            ("error_x" if horizontal else "error_y"): error,
        }
        if bars:
            trace["marker"] = {
                "color": colour(colour_index),
                "line": {"color": colour(colour_index), "width": 1},
            }
            if low:
                trace["marker"]["opacity"] = 0.7
                trace["marker"]["pattern"] = {
                    "shape": LOW_PATTERN,
                    "fillmode": "overlay",
                    "fgcolor": "#ffffff",
                    "size": 6,
                    "solidity": 0.35,
                }
        else:
            trace["mode"] = "markers"
            trace["marker"] = {
                "color": colour(colour_index),
                "size": 9,
                "symbol": "circle-open" if low else "circle",
                "line": {"color": colour(colour_index), "width": 2},
            }
        if axis:
            trace["xaxis"], trace["yaxis"] = f"x{axis}", f"y{axis}"
        traces.append(trace)
    return traces


def value_axis(unit: str, title: str) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "title": {"text": esc(title)},
        "zeroline": True,
        "zerolinecolor": "#999999",
        "gridcolor": "#e5e5e5",
        "automargin": True,
    }
    if labels.is_share(unit):
        axis["tickformat"] = ".0%"
        axis["range"] = [0, 1.02]
    elif unit in ("clients", "sessions", "count"):
        axis["rangemode"] = "tozero"
        axis["tickformat"] = ",d"
    return axis


def category_axis(categories: Sequence[str], title: str, horizontal: bool) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "title": {"text": esc(title)},
        "type": "category",
        "categoryorder": "array",
        "categoryarray": [esc(c) for c in categories],
        "automargin": True,
    }
    if horizontal:
        axis["autorange"] = "reversed"
    return axis


def layout(
    *,
    categories: Sequence[str],
    category_title: str,
    unit: str,
    value_title: str,
    horizontal: bool,
    series: int,
    bars: bool,
    target: float | None = None,
    withheld: Sequence[int] = (),
) -> dict[str, Any]:
    """A layout for one category axis and one value axis, with a target line and withheld labels."""
    height = max(260, 90 + len(categories) * max(22, 10 * series)) if horizontal else 380
    cat_axis = category_axis(categories, category_title, horizontal)
    val_axis = value_axis(unit, value_title)
    out: dict[str, Any] = {
        "height": height,
        "margin": {"l": 10, "r": 20, "t": 10, "b": 10},
        "font": {"family": FONT, "size": 13, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": series > 1,
        "legend": {
            "orientation": "h",
            "y": -0.15 if not horizontal else 1.02,
            "yanchor": "top" if not horizontal else "bottom",
        },
        "xaxis": val_axis if horizontal else cat_axis,
        "yaxis": cat_axis if horizontal else val_axis,
        "hovermode": "closest",
    }
    if bars:
        out["barmode"] = "group"
    elif series > 1:
        out["scattermode"] = "group"
        out["scattergap"] = 0.3
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    if target is not None:
        out["margin"] = {**out["margin"], "t": 30}
        line = {"type": "line", "line": {"color": "#222222", "dash": "dash", "width": 1.5}}
        if horizontal:
            shapes.append(
                {**line, "xref": "x", "yref": "paper", "x0": target, "x1": target, "y0": 0, "y1": 1}
            )
        else:
            shapes.append(
                {**line, "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": target, "y1": target}
            )
        annotations.append(
            {
                "text": f"target {esc(labels.number(target, unit).replace('.0%', '%'))}",
                "showarrow": False,
                "font": {"size": 12},
                **(
                    {
                        "x": target,
                        "xref": "x",
                        "y": 1,
                        "yref": "paper",
                        "yanchor": "bottom",
                        "xanchor": "left",
                    }
                    if horizontal
                    else {
                        "x": 1,
                        "xref": "paper",
                        "y": target,
                        "yref": "y",
                        "xanchor": "right",
                        "yanchor": "bottom",
                    }
                ),
            }
        )
    annotations += [withheld_label(i, horizontal) for i in withheld]
    if annotations:
        out["annotations"] = annotations
    if shapes:
        out["shapes"] = shapes
    return out


def withheld_label(position: int, horizontal: bool, axis: str = "") -> dict[str, Any]:
    """The word "withheld" where a withheld cell would be, so a gap is never read as zero.

    ``position`` is the category's index: Plotly would read a label such as "+3" as a number.
    """
    place: dict[str, Any] = (
        {"x": 0, "y": position, "xanchor": "left"}
        if horizontal
        else {"x": position, "y": 0, "yanchor": "bottom", "textangle": -90}
    )
    return {
        **place,
        "xref": f"x{axis}",
        "yref": f"y{axis}",
        "text": "<i>withheld</i>",
        "showarrow": False,
        "font": {"size": 10, "color": GREY},
    }
