"""Reporting periods: calendar quarters written ``2026-Q3``, and ranges of them ``2025-Q4..2026-Q3``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"^(\d{4})-Q([1-4])$")
RANGE_SEPARATOR = ".."
MAX_RANGE = 40
"""Quarters one range may span (ten years): more is a typing slip, not a sector's history."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter, the unit of every submission and release."""

    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 2100:
            raise ValueError(f"period year must be between 2000 and 2100, got {self.year}")
        if self.quarter not in (1, 2, 3, 4):
            raise ValueError(f"quarter must be 1 to 4, got {self.quarter}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY-Qn``; anything else is refused with the expected form."""
        match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"period must be written YYYY-Qn, like 2026-Q3 (got {text!r})")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def back(self, quarters: int) -> Period:
        """The quarter ``quarters`` before this one (``back(3)`` starts the year ending here)."""
        index = self.year * 4 + self.quarter - 1 - quarters
        return Period(index // 4, index % 4 + 1)

    def through(self, last: Period) -> tuple[Period, ...]:
        """Every quarter from this one to ``last``, both included, in order."""
        count = (last.year * 4 + last.quarter) - (self.year * 4 + self.quarter) + 1
        return tuple(last.back(count - 1 - i) for i in range(max(count, 0)))

    def window_closes(self, window_days: int) -> date:
        """The first day on which the period's submission window is closed."""
        return self.end + timedelta(days=window_days + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.quarter}"


def parse_range(text: str) -> tuple[Period, ...]:
    """Parse ``FIRST..LAST`` (``2025-Q4..2026-Q3``) into its quarters, in order.

    A single quarter is a range of one. A range that runs backwards, that names
    something other than quarters, or that spans more than :data:`MAX_RANGE`
    quarters is refused with the form expected.
    """
    if not isinstance(text, str):
        raise ValueError(f"a range of periods is written like 2025-Q4..2026-Q3 (got {text!r})")
    first_text, sep, last_text = text.strip().partition(RANGE_SEPARATOR)
    if not sep:
        last_text = first_text
    ends = []
    for end in (first_text, last_text):
        if not _PERIOD.fullmatch(end.strip()):
            raise ValueError(
                f"a range of periods names two quarters written YYYY-Qn, like "
                f"2025-Q4..2026-Q3; {end.strip()!r} is not a quarter"
            )
        ends.append(Period.parse(end))
    first, last = ends
    if last < first:
        raise ValueError(
            f"the range {first}..{last} runs backwards: write the earlier quarter first, "
            f"like {last}..{first}"
        )
    quarters = first.through(last)
    if len(quarters) > MAX_RANGE:
        raise ValueError(
            f"the range {first}..{last} spans {len(quarters)} quarters; at most {MAX_RANGE} "
            "(ten years) can be generated at once"
        )
    return quarters
