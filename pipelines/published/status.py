"""Submission status per period and NGO: the one fact about submissions the published zone names.

A funder may see who has sent a quarter's extract, who sent it after the window
closed, and who has not sent it; never what any extract holds. The status is
worked out from when the hub received each NGO's first held submission of the
period and the plan's submission window, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum

import pandas as pd

from pipelines.standard.periods import Period

COLUMNS = ("period", "ngo_id", "status", "first_received_on", "window_closes_on")


class Submission(StrEnum):
    """Where an NGO stands for a period, as the site says it."""

    SUBMITTED = "submitted"
    """Received before the period's submission window closed."""
    LATE = "late"
    """First received on or after the day the window closed."""
    NOT_SUBMITTED = "not submitted"
    """Registered and active, and nothing received for the period."""


def _day(received: datetime | date) -> date:
    if isinstance(received, datetime):
        return (received.astimezone(UTC) if received.tzinfo else received).date()
    return received


def submission_statuses(
    received: Iterable[tuple[str, str, datetime | date]],
    registered: Iterable[str],
    periods: Iterable[str],
    window_days: int,
) -> pd.DataFrame:
    """One row per period and NGO: ``received`` holds (period, NGO, first received) of held
    submissions; every ``registered`` NGO without one is ``not submitted`` in every period of
    ``periods`` (and of ``received``)."""
    first: dict[tuple[str, str], date] = {}
    for period, ngo, when in received:
        day = _day(when)
        key = (period, ngo)
        first[key] = min(first.get(key, day), day)
    every_period = sorted(set(periods) | {p for p, _ in first})
    every_ngo = sorted(set(registered) | {n for _, n in first})
    rows = []
    for period in every_period:
        closes = Period.parse(period).window_closes(window_days)
        for ngo in every_ngo:
            day_in = first.get((period, ngo))
            if day_in is None:
                status = Submission.NOT_SUBMITTED
            elif day_in >= closes:
                status = Submission.LATE
            else:
                status = Submission.SUBMITTED
            rows.append(
                (
                    period,
                    ngo,
                    str(status),
                    day_in.isoformat() if day_in else None,
                    closes.isoformat(),
                )
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
