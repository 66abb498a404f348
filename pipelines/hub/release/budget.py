"""A release's budget: what each NGO's parts are calibrated on, and the refusals. Pure, no vault.

Every refusal is written by :func:`refusal`, so a steward reads the same shape
each time: what is refused, that nothing was spent, each NGO's budget and what
is asked (the first few, then how many more), and the command that fixes it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from pipelines.hub.ledger import TOLERANCE, Balance
from pipelines.hub.release.errors import ReleaseError
from pipelines.hub.rolling_year import YearBalance

LISTED = 10
"""NGOs named in a refusal; the rest are counted."""


def refusal(subject: str, why: str, lines: Sequence[str], fix: str) -> ReleaseError:
    """``<subject> is refused and nothing was spent: <why>``, one line per NGO, then the fix."""
    shown = "".join(f"\n  {line}" for line in lines[:LISTED])
    more = f"\n  … and {len(lines) - LISTED} more" if len(lines) > LISTED else ""
    return ReleaseError(f"{subject} is refused and nothing was spent: {why}{shown}{more}\n{fix}")


def _set_budget(period: str) -> str:
    return f"`outcomes budget set --ngo ID --period {period} --rho R` (or --default)"


def check_registered(period: str, ngos: Collection[str], registered: Collection[str]) -> None:
    """Refuse a release that would charge an NGO the register does not know."""
    unknown = sorted(set(ngos) - set(registered))
    if unknown:
        raise refusal(
            f"The release of {period}",
            f"{len(unknown)} contributing NGO(s) are not in the NGO register.",
            [f"{n}: not registered" for n in unknown],
            'Register each with `outcomes ngo register --ngo ID --name "NAME"`, then release again.',
        )


def check_budget(period: str, balances: Sequence[Balance], asked: Mapping[str, float]) -> None:
    """Refuse, before any mechanism runs, a release that would take any NGO over its budget."""
    short = [b for b in balances if b.spent + asked.get(b.ngo_id, 0.0) > b.budget * (1 + TOLERANCE)]
    if short:
        raise refusal(
            f"The release of {period}",
            f"{len(short)} NGO(s) lack the budget.",
            [
                f"{b.ngo_id}: budget rho {b.budget:.4g}, already spent {b.spent:.4g}, "
                f"left {b.left:.4g}, this release asks {asked[b.ngo_id]:.4g}"
                for b in short
            ],
            f"Raise their budgets with {_set_budget(period)}, or lower the plan's weights.",
        )


def _set_cap() -> str:
    return "`outcomes budget set --ngo ID --annual-rho R` (or --default)"


def check_year(period: str, years: Sequence[YearBalance], asked: Mapping[str, float]) -> None:
    """Refuse, before any mechanism runs, a release that would take any NGO over its rolling-year
    cap: the rho any four consecutive quarters may spend (``years``: the busiest four quarters
    containing ``period``, per NGO, before this release)."""
    over = [y for y in years if y.spent + asked.get(y.ngo_id, 0.0) > y.cap * (1 + TOLERANCE)]
    if over:
        raise refusal(
            f"The release of {period}",
            f"{len(over)} NGO(s) would spend more than their rolling-year cap (the rho any four "
            "consecutive quarters may spend).",
            [
                f"{y.ngo_id}: quarters {y.window} cap rho {y.cap:.4g}, already spent "
                f"{y.spent:.4g} ({y.spent_text()}), left {y.left:.4g}, this release asks "
                f"{asked[y.ngo_id]:.4g}"
                for y in sorted(over, key=lambda y: y.left - asked[y.ngo_id])
            ],
            f"Raise their caps with {_set_cap()}, or lower their budgets for {period} to what "
            f"their year has left with {_set_budget(period)}.",
        )


def allotment(
    period: str,
    budget: Mapping[str, float],
    used_elsewhere: Mapping[str, float],
    minimum: float = 0.0,
) -> dict[str, float]:
    """What a release (and its addenda) is calibrated on: each NGO's budget less what the
    period's *other* releases spent. The first release of a period gets the whole budget; a
    superseding one gets what is left, so raising a budget by R lets a new release spend R.
    Refused, before any mechanism, when an NGO has less than ``minimum`` (the plan's floor)
    left."""
    left = {n: b - used_elsewhere.get(n, 0.0) for n, b in budget.items()}
    empty = sorted(n for n, v in left.items() if v <= max(budget[n] * TOLERANCE, minimum))
    if empty:
        raise refusal(
            f"The release of {period}",
            f"{len(empty)} NGO(s) have spent their whole budget for {period} on earlier releases"
            + (
                f", or have less than the plan's floor of rho {minimum:g} left." if minimum else "."
            ),
            [
                f"{n}: budget rho {budget[n]:.4g}, already spent {used_elsewhere.get(n, 0.0):.4g}, "
                f"left {_left(left[n], budget[n]):.4g}, this release asks for budget beyond that (it "
                "spends what is left)"
                for n in empty
            ],
            f"Raise their budgets by what the new release may spend with {_set_budget(period)}.",
        )
    return left


def _left(left: float, budget: float) -> float:
    """What is left, with floating-point dust (a sum of rho a hair off the budget) shown as 0."""
    return 0.0 if left <= budget * TOLERANCE else left


def check_supersede(
    period: str,
    previous: str,
    budget: Mapping[str, float],
    base: Mapping[str, float],
    entitled: Mapping[str, float],
) -> None:
    """Refuse a superseding release that would be noisier than the one it replaces.

    A new release is calibrated on what the period's earlier releases left
    (``base``); if that is less than the previous release was calibrated on
    (``entitled``), its numbers would be less accurate (and it would take the share
    kept for cells awaiting governance approval). The steward raises the budget first.
    """
    short = {
        n: entitled[n] - base[n]
        for n in base
        if n in entitled and base[n] < entitled[n] * (1 - TOLERANCE)
    }
    if not short:
        return
    needed = max(budget[n] + gap for n, gap in short.items())
    raise refusal(
        f"Superseding {previous}",
        f"{len(short)} NGO(s) have less budget left for {period} than {previous} was calibrated "
        "on, so the new release would be noisier than the one it replaces.",
        [
            f"{n}: left {base[n]:.4g}, {previous} was calibrated on {entitled[n]:.4g}"
            for n in sorted(short, key=lambda n: -short[n])
        ],
        f"Raise budgets by at least the difference, e.g. `outcomes budget set --default "
        f"--period {period} --rho {_round_up(needed)}` (and any NGO with its own budget "
        "likewise), then supersede.",
    )


def _round_up(rho: float) -> str:
    return f"{math.ceil(rho * 1000) / 1000:g}"
