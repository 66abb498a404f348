"""When a period is due for release, and what arrived after it was released."""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.hub.vault import budgets, releases, submissions
from pipelines.privacy.plan import ReleasePlan
from pipelines.standard.periods import Period


def releasable_periods(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, today: date) -> list[str]:
    """Periods to release today: those whose submission window has closed and that have accepted
    submissions but no current release, those whose release waits for cells that the
    governance group has approved since, and those with submissions from an NGO the release
    does not have (a late NGO, whose own figures an addendum adds). A correction from an NGO
    already in the release is not among them: only a steward's --supersede takes it in."""
    planned = {c for m in plan.measures for c in plan.components(m) if c.governed}
    released = releases.current_by_period(con)
    waiting = set()
    for period, release_id in released.items():
        in_force = budgets.approved(con, period)
        approved = {str(c) for c in planned if c.approval in in_force}
        if approved - releases.components(con, release_id):
            waiting.add(period)
        current = {ngo for _dataset, ngo in submissions.current_ngos(con, period)}
        if current - releases.contributors(con, period):
            waiting.add(period)
    return [
        p
        for p in submissions.current_periods(con)
        if (p not in released or p in waiting)
        and Period.parse(p).window_closes(plan.window_days) <= today
    ]


def late_submissions(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Accepted submissions the period's current release did not use (they arrived after it)."""
    return releases.unreleased_submissions(con, period)
