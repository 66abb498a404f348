"""A correction to a released quarter: what including it would spend, said before anything is.

A period is released once; submissions accepted after its release (a late NGO,
a corrected file) are not in it. Including them takes a new release that
supersedes the current one, and a new release spends budget again: at least
what the current one was calibrated on, so that it is no noisier. Asked to
release such a period without ``--supersede``, the hub refuses and says what
superseding would spend in the quarter and in each NGO's rolling year.
"""

from __future__ import annotations

import math

import duckdb

from pipelines.hub import ledger
from pipelines.hub.release.budget import refusal
from pipelines.hub.release.errors import ReleaseError
from pipelines.hub.release.parts import charges, plan_parts
from pipelines.hub.release.store import contributing_ngos
from pipelines.hub.rolling_year import year_balances
from pipelines.hub.vault import budgets, releases
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import ReleasePlan


def _up(rho: float) -> str:
    return f"{math.ceil(rho * 1000) / 1000:g}"


def correction_refusal(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str
) -> ReleaseError | None:
    """The refusal to give when ``period`` is released and submissions accepted since are not in
    its release; None when there are none. Nothing is computed or spent to say it."""
    current = releases.current(con, period)
    late = releases.unreleased_submissions(con, period)
    if current is None or not late:
        return None
    contributing = contributing_ngos(con, period)
    ngos = sorted(set(contributing["episodes"]) | set(contributing["assessments"]))
    budget = ledger.budgets(con, plan, period, ngos)
    spent = releases.spent(con, period)
    entitled = releases.allotments(con, current.release_id)
    # No less accurate than the release it replaces; an NGO new to the period gets its budget.
    base = {n: entitled.get(n, budget[n] - spent.get(n, 0.0)) for n in ngos}
    parts, _ = plan_parts(plan, contributing, base, budgets.approved(con, period))
    asks = charges(parts)
    quarter = {b.ngo_id: b for b in ledger.balances(con, plan, period, asks)}
    years = sorted(year_balances(con, plan, period, asks), key=lambda y: y.left - asks[y.ngo_id])
    top = max(asks.values(), default=0.0)
    lines = [
        f"{y.ngo_id}: would spend rho {asks[y.ngo_id]:.4g} more in {period} (budget "
        f"{quarter[y.ngo_id].budget:.4g}, already spent {quarter[y.ngo_id].spent:.4g}, left "
        f"{quarter[y.ngo_id].left:.4g}); its four quarters {y.window} would reach "
        f"{y.spent + asks[y.ngo_id]:.4g} of its cap {y.cap:.4g}"
        for y in years
    ]
    # The new release is calibrated on what the quarter has left, and may be no noisier than
    # the current one: the budget must leave at least ``base`` beside what is already spent.
    quarter_needed = max(quarter[n].spent + base[n] for n in asks)
    year_short = [y for y in years if y.spent + asks[y.ngo_id] > y.cap]
    cap_fix = (
        f" and their caps (e.g. `outcomes budget set --default --annual-rho "
        f"{_up(max(y.spent + asks[y.ngo_id] for y in year_short))}`)"
        if year_short
        else ""
    )
    return refusal(
        f"Releasing {period} with the {late} submission(s) accepted since {current.release_id}",
        f"{period} is released as {current.release_id}, which does not include them. Including "
        "them takes a new release that supersedes it (--supersede), and that spends budget "
        f"again: up to rho {top:.4g} per NGO (epsilon {epsilon_at(top, plan.delta):.2f} at delta "
        f"{plan.delta:g}), in {period} and in each NGO's rolling year.",
        lines,
        f"Raise their budgets for {period} (e.g. `outcomes budget set --default --period "
        f"{period} --rho {_up(quarter_needed)}`){cap_fix}, then run `outcomes release --period "
        f"{period} --supersede`.",
    )
