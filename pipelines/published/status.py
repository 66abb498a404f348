"""Submission status per period and NGO: the one fact about submissions the published zone names.

A funder may see who has sent a quarter's extract, who sent it late, and who has
not sent it; never what any extract holds. The status is worked out from when the
hub received each NGO's first held submission of the period, the plan's
submission window and when the period was first released, nothing else.

Late means *too late for the quarter's release*: after the window closed and
after the quarter was first released (its figures follow in an addendum). An
extract that arrived after the window closed but before the steward released the
quarter is in that release, so it is counted as submitted. A hub that is started
on quarters long past (a new hub loading its history, the demo) would otherwise
call every NGO late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from enum import StrEnum

import pandas as pd

from pipelines.standard.periods import Period

COLUMNS = ("period", "ngo_id", "status", "first_received_on", "window_closes_on")


class Submission(StrEnum):
    """Where an NGO stands for a period, as the site says it."""

    SUBMITTED = "submitted"
    """Received before the period's submission window closed, or before its first release."""
    LATE = "late"
    """First received once the window had closed and, if the period was released, after that
    release was made."""
    NOT_SUBMITTED = "not submitted"
    """Registered and active, and nothing received for the period."""


def _moment(when: datetime | date) -> datetime:
    """A time in UTC; a day alone is its first moment."""
    if isinstance(when, datetime):
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.combine(when, time.min, tzinfo=UTC)


def submission_statuses(
    received: Iterable[tuple[str, str, datetime | date]],
    registered: Iterable[str],
    periods: Iterable[str],
    window_days: int,
    first_released: Mapping[str, datetime | date] | None = None,
) -> pd.DataFrame:
    """One row per period and NGO: ``received`` holds (period, NGO, first received) of held
    submissions; every ``registered`` NGO without one is ``not submitted`` in every period of
    ``periods`` (and of ``received``). ``first_released`` holds when each released period was
    first released: what arrived before that is in the release, so it is not late."""
    first: dict[tuple[str, str], datetime] = {}
    for period, ngo, when in received:
        moment = _moment(when)
        key = (period, ngo)
        first[key] = min(first.get(key, moment), moment)
    released = {p: _moment(w) for p, w in (first_released or {}).items()}
    every_period = sorted(set(periods) | {p for p, _ in first})
    every_ngo = sorted(set(registered) | {n for _, n in first})
    rows = []
    for period in every_period:
        closes = Period.parse(period).window_closes(window_days)
        for ngo in every_ngo:
            arrived = first.get((period, ngo))
            if arrived is None:
                status = Submission.NOT_SUBMITTED
            elif arrived.date() >= closes and (
                period not in released or arrived >= released[period]
            ):
                status = Submission.LATE
            else:
                status = Submission.SUBMITTED
            rows.append(
                (
                    period,
                    ngo,
                    str(status),
                    arrived.date().isoformat() if arrived else None,
                    closes.isoformat(),
                )
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
