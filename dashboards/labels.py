"""Human words for the published zone's codes: dimension values, questions, units and numbers.

Labels and the order of dimension values come from the contracts, never typed
here, so a contract change reaches the site without a code change. Numbers are
formatted by their unit (from the plan's accuracy table), and every noisy
number is written with its 95% interval.
"""

from __future__ import annotations

import functools
import math
import re

from pipelines.standard.contract import enum_columns

QUESTIONS = {
    "how_much": "How much did we do?",
    "how_well": "How well did we do it?",
    "better_off": "Is anyone better off?",
}
"""The three Results-Based Accountability questions, in the order a report card asks them."""

_NAMES = {
    "change": "Change in score",
    "domain_group": "Domain group",
    "ngo_id": "NGO",
    "period": "Period",
}
_WORDS = ("domain_group",)
"""Dimensions whose values are plain words the contract names as categories (``goals`` -> ``Goals``)."""
_SHARE_UNITS = ("share",)
_COUNT_UNITS = ("clients", "sessions", "count")
_MINUS = "\u2212"
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


@functools.cache
def _labels() -> dict[str, dict[str, str]]:
    return {name: column.labels for name, column in enum_columns().items()}


def dimension_name(dimension: str) -> str:
    """``programme`` -> ``Programme``: the contract's business name of a breakdown."""
    column = enum_columns().get(dimension)
    if column is not None and column.business_name:
        return column.business_name
    return _NAMES.get(dimension, dimension.replace("_", " ").capitalize())


def value_label(dimension: str, value: str) -> str:
    """The contract's label of a dimension value (``maori`` -> ``Māori``); a signed number for change."""
    label = _labels().get(dimension, {}).get(value)
    if label:
        return label
    if dimension in _WORDS:
        return value.replace("_", " ").capitalize()
    if _is_number(value):
        number = float(value)
        if number == 0:
            return "0"
        text = f"{abs(number):g}"
        return f"+{text}" if number > 0 else f"{_MINUS}{text}"
    return value


def value_category(dimension: str, value: str) -> str | None:
    """The contract's category of a value, e.g. ``circumstances`` for an outcome domain."""
    column = enum_columns().get(dimension)
    if column is None:
        return None
    for enum in column.enum:
        if enum.value == value:
            return enum.category
    return None


def ordered(dimension: str, values: set[str] | list[str] | tuple[str, ...]) -> list[str]:
    """Values in the contract's order; values the contract does not list follow, numbers numerically."""
    column = enum_columns().get(dimension)
    order = {v: i for i, v in enumerate(column.accepted_values)} if column is not None else {}
    known = sorted((v for v in set(values) if v in order), key=order.__getitem__)
    rest = [v for v in set(values) if v not in order]
    numbers = sorted((v for v in rest if _is_number(v)), key=float)
    words = sorted(v for v in rest if not _is_number(v))
    return known + numbers + words


def slug(text: str) -> str:
    """A fragment safe in a file name or an HTML id (``Bay of Plenty`` -> ``Bay-of-Plenty``)."""
    return _SLUG.sub("-", text).strip("-") or "x"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# --- numbers ------------------------------------------------------------------------------------


def is_share(unit: str) -> bool:
    return unit in _SHARE_UNITS


def number(value: float | None, unit: str) -> str:
    """A value as a reader expects it: ``6,782`` clients, ``76.3%``, ``+0.84`` score points."""
    if value is None or not math.isfinite(value):
        return "\u2014"
    if is_share(unit):
        return f"{value * 100:.1f}%"
    if unit in _COUNT_UNITS:
        return f"{value:,.0f}"
    if unit == "score points":
        return _signed(f"{value:+.2f}")
    if unit == "sessions per client":
        return f"{value:,.1f}"
    if unit == "rho":
        return f"{value:.4g}"
    return f"{value:,.3g}"


def difference(value: float, unit: str) -> str:
    """A change between periods, always signed: ``+120`` clients, ``+3.1 points`` for shares."""
    if is_share(unit):
        return _signed(f"{value * 100:+.1f}") + " points"
    if unit in _COUNT_UNITS:
        return _signed(f"{value:+,.0f}")
    if unit == "score points":
        return _signed(f"{value:+.2f}")
    return _signed(f"{value:+,.2f}")


def _signed(text: str) -> str:
    """A typographic minus; a value that rounds to zero carries no sign (never "−0.0")."""
    digits = text.lstrip("+-").replace(",", "")
    if digits and float(digits) == 0:
        return text.lstrip("+-")
    return text.replace("-", _MINUS)


def interval(low: float | None, high: float | None, unit: str) -> str:
    """The 95% interval as a range: ``6,771 to 6,793``."""
    if low is None or high is None:
        return "\u2014"
    return f"{number(low, unit)} to {number(high, unit)}"


def plus_minus(value: float | None, low: float | None, high: float | None, unit: str) -> str:
    """The 95% interval in the site's one style: ``± 11`` (``± 2.1 points`` for a share) when it
    is symmetric about the value as displayed, else the range ``6,771 to 6,793``."""
    if value is None or low is None or high is None:
        return "\u2014"
    below, above = value - low, high - value
    if is_share(unit):
        if round(below * 100, 1) == round(above * 100, 1):
            return f"\u00b1 {below * 100:.1f} points"
    elif number(below, unit).lstrip("+") == number(above, unit).lstrip("+"):
        return f"\u00b1 {number(below, unit).lstrip('+')}"
    return interval(low, high, unit)


def estimate(value: float | None, low: float | None, high: float | None, unit: str) -> str:
    """A noisy number with its 95% interval, in the site's one style, for running text and
    tables: ``6,782 ± 11``, ``76.3% ± 2.1 points``, ``0.9 (95% interval 0.0 to 12.0)``."""
    if value is None:
        return "withheld"
    band = plus_minus(value, low, high, unit)
    if band.startswith("\u00b1"):
        return f"{number(value, unit)} {band}"
    return f"{number(value, unit)} (95% interval {band})"


def change(diff: float, half: float, unit: str) -> str:
    """A change between two releases with its symmetric 95% interval: ``+120 ± 70``,
    ``+3.1 ± 4.2 points`` for a share."""
    if is_share(unit):
        return f"{difference(diff, unit).removesuffix(' points')} \u00b1 {half * 100:.1f} points"
    return f"{difference(diff, unit)} \u00b1 {number(half, unit).lstrip('+')}"
