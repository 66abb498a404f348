"""Reporting periods: calendar quarters written ``2026-Q3``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"^(\d{4})-Q([1-4])$")


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

    def window_closes(self, window_days: int) -> date:
        """The first day on which the period's submission window is closed."""
        return self.end + timedelta(days=window_days + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.quarter}"
