"""What a page is made of: sections of charts, tables and headline tiles, before any HTML.

Page modules in :mod:`dashboards.pages` build these plain objects from the
zone; :mod:`dashboards.site` renders them with one Jinja environment. Keeping
HTML out of the page modules keeps every label on its way through Jinja's
autoescaping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dashboards import labels
from dashboards.charts import Chart, Table
from dashboards.zone import Cell, Zone


@dataclass(frozen=True)
class Tile:
    """A headline number with its 95% interval, its flag, and its change since the previous period."""

    title: str
    value: str
    interval: str
    flag: str
    reason: str = ""
    change: str = ""
    target: str = ""
    note: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    id: str = ""
    intro: tuple[str, ...] = ()
    tiles: tuple[Tile, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[tuple[Table, str], ...] = ()
    """Tables without a chart, each with its CSV download (path from the site root, or "")."""
    links: tuple[tuple[str, str, str], ...] = ()
    """(path from the site root, text, element id) links, e.g. from a programme to its regions."""


@dataclass(frozen=True)
class Page:
    path: str
    """Where the page is written, relative to the site root: ``index.html``, ``ngos/ngo-0001.html``."""
    title: str
    nav: str
    intro: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    template: str = "sections.html.j2"
    extra: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ()
    """The methods box (see :mod:`dashboards.methods`), on pages that show estimates."""

    @property
    def root(self) -> str:
        """The relative way back to the site root, so pages work from ``file://`` and any server."""
        return "../" * self.path.count("/")

    @property
    def has_charts(self) -> bool:
        return any(s.charts for s in self.sections)


def half_width(cell: Cell) -> float:
    """A cell's 95% half-width: the larger side, so an interval clipped at a bound (a count at
    zero, a share at 100%) still gives the noise's full width."""
    value, low, high = float(cell.value or 0.0), float(cell.low or 0.0), float(cell.high or 0.0)
    return max(value - low, high - value, 0.0)


def change_between(current: Cell | None, previous: Cell | None) -> tuple[float, float] | None:
    """The change between two releases' values and the 95% half-width of that change.

    Each release's noise is drawn independently and is Gaussian, so the difference's
    half-width is the two half-widths combined in quadrature: sqrt(h1² + h2²).
    """
    if current is None or previous is None or current.withheld or previous.withheld:
        return None
    if any(v is None for c in (current, previous) for v in (c.value, c.low, c.high)):
        return None
    diff = float(current.value or 0.0) - float(previous.value or 0.0)
    return diff, math.hypot(half_width(current), half_width(previous))


CHANGE_RULE = (
    "A change between two quarters is the difference of their published values. The two "
    "releases' noises are independent, so the change's 95% half-width is the square root of the "
    "sum of the squares of the two half-widths (sqrt(h1\u00b2 + h2\u00b2)). A change is called up "
    "or down only when its whole interval is above or below zero."
)
"""How the site forms a change's interval, in the words every page that shows one uses."""


def verdict(change: tuple[float, float]) -> str:
    diff, half = change
    if diff - half > 0:
        return "up"
    if diff + half < 0:
        return "down"
    return "no clear change"


def change_text(change: tuple[float, float] | None, unit: str, since: str) -> str:
    if change is None:
        return f"No change since {since} can be given: it was not released then, or is withheld."
    diff, half = change
    return f"Since {since}: {labels.change(diff, half, unit)} (95% interval), {verdict(change)}."


def target_text(cell: Cell | None, target: float | None, unit: str) -> str:
    if target is None or cell is None or cell.withheld or cell.low is None or cell.high is None:
        return ""
    goal = labels.number(target, unit).replace(".0%", "%")
    if cell.low >= target:
        return f"Target {goal}: met, even at the low end of the interval."
    if cell.high < target:
        return f"Target {goal}: not yet met, even at the high end of the interval."
    return f"Target {goal}: the interval spans the target, so it cannot be called either way."


def tile(
    zone: Zone,
    measure: str,
    cells: list[Cell],
    previous: list[Cell] | None = None,
    *,
    title: str | None = None,
) -> Tile:
    """The headline tile of a measure with no breakdown (one cell)."""
    info = zone.measure(measure)
    cell = cells[0] if cells else None
    name = title or info.title
    if cell is None:
        return Tile(name, "\u2014", "", "missing", note="Not in this release.")
    if cell.withheld:
        return Tile(name, "withheld", "", "withheld", reason=cell.reason or "no reason given")
    change = ""
    if previous is not None and zone.previous:
        change = change_text(
            change_between(cell, previous[0] if previous else None), info.unit, zone.previous
        )
    return Tile(
        title=name,
        value=labels.number(cell.value, info.unit),
        interval=labels.plus_minus(cell.value, cell.low, cell.high, info.unit),
        flag=cell.reliability,
        change=change,
        target=target_text(cell, info.target, info.unit),
    )
