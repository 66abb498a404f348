"""The rolling year (steward zone): what any four consecutive quarters spend per NGO, and its cap.

Pseudonyms are stable across quarters, so a client served all year is in four
releases, and their privacy loss is the sum of what those releases spent
(zCDP composes by adding rho). Beside each quarter's budget, every NGO has a
cap on the rho spent over ANY four consecutive quarters: its own, else the
default set by a steward, else the plan's ``annual_rho``. A cap is the same for
every window, so the window that binds is the one that has spent most; a
release of a period adds to the four windows that contain it. Supersedes and
addenda are spends like any other: the ledger's ``spends`` rows, by period.
The caps' SQL is in :mod:`pipelines.hub.vault.budgets` (decision 015).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from pipelines.db import transaction
from pipelines.hub import audit
from pipelines.hub.ledger import TOLERANCE, BudgetError
from pipelines.hub.vault import budgets as budget_table
from pipelines.hub.vault import releases
from pipelines.hub.vault.budgets import DEFAULT
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import ReleasePlan
from pipelines.standard.periods import Period

QUARTERS = 4
"""A rolling year: four consecutive quarters."""


@dataclass(frozen=True)
class YearBalance:
    """One NGO's four consecutive quarters (the busiest that contain a period) and its cap."""

    ngo_id: str
    quarters: tuple[str, ...]
    spent_by_quarter: tuple[float, ...]
    cap: float

    @property
    def spent(self) -> float:
        return math.fsum(self.spent_by_quarter)

    @property
    def left(self) -> float:
        return max(self.cap - self.spent, 0.0)

    @property
    def window(self) -> str:
        """``2025-Q4..2026-Q3``."""
        return f"{self.quarters[0]}..{self.quarters[-1]}"

    def spent_text(self) -> str:
        """What each quarter spent, e.g. ``2025-Q4 0.5, 2026-Q1 0.5, 2026-Q2 0, 2026-Q3 0``."""
        return ", ".join(
            f"{q} {s:.4g}" for q, s in zip(self.quarters, self.spent_by_quarter, strict=True)
        )


def _window(last: Period) -> tuple[str, ...]:
    return tuple(str(last.back(QUARTERS - 1 - i)) for i in range(QUARTERS))


def windows_containing(period: str) -> list[tuple[str, ...]]:
    """The four windows of four consecutive quarters that contain ``period``, the one ending at
    it first (quarters before the year 2000 cannot hold spends and are left out)."""
    found = []
    for ahead in range(QUARTERS):
        try:
            found.append(_window(Period.parse(period).back(-ahead)))
        except ValueError:
            continue
    return found


def busiest_year(ngo_id: str, period: str, cap: float, spent: Mapping[str, float]) -> YearBalance:
    """Of the windows containing ``period``, the one in which the NGO spent most (``spent`` by
    quarter); on a tie, the one ending at ``period``."""
    best: YearBalance | None = None
    for quarters in windows_containing(period):
        year = YearBalance(ngo_id, quarters, tuple(spent.get(q, 0.0) for q in quarters), cap)
        if best is None or year.spent > best.spent * (1 + TOLERANCE):
            best = year
    assert best is not None, f"no window contains {period}"
    return best


def busiest_ever(
    spent: Mapping[tuple[str, str], float], caps: Mapping[str, float]
) -> dict[str, YearBalance]:
    """Per NGO with any spend, the four consecutive quarters in which it spent most
    (``spent`` by (period, NGO); ``caps`` by NGO)."""
    by_ngo: dict[str, dict[str, float]] = {}
    for (period, ngo), rho in spent.items():
        by_ngo.setdefault(ngo, {})[period] = rho
    found = {}
    for ngo, quarters in by_ngo.items():
        years = [busiest_year(ngo, q, caps[ngo], quarters) for q in sorted(quarters)]
        found[ngo] = max(years, key=lambda y: y.spent)
    return found


# --- reading the ledger -------------------------------------------------------------------------


def annual_caps(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, ngos: Iterable[str]
) -> dict[str, float]:
    """Each NGO's cap: its own, else the steward's default, else the plan's ``annual_rho``."""
    rows = budget_table.annual_caps(con)
    default = float(rows.get(DEFAULT, plan.annual_rho))
    return {ngo: float(rows.get(ngo, default)) for ngo in ngos}


def year_balances(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str, ngos: Iterable[str]
) -> list[YearBalance]:
    """Per NGO, the busiest four consecutive quarters that contain ``period``: what a release of
    ``period`` adds to, and is checked against."""
    ngos = sorted(set(ngos))
    reach = sorted({q for w in windows_containing(period) for q in w})
    spent = releases.spent_in(con, reach)
    caps = annual_caps(con, plan, ngos)
    return [
        busiest_year(n, period, caps[n], {q: spent.get((q, n), 0.0) for q in reach}) for n in ngos
    ]


# --- setting a cap ------------------------------------------------------------------------------


def check_annual_rho(rho: float, plan: ReleasePlan) -> float:
    """A cap must be a positive finite number no larger than four quarters at ``max_rho``."""
    if not isinstance(rho, int | float) or isinstance(rho, bool) or math.isnan(rho):
        raise BudgetError(f"an annual cap must be a number, got {rho!r}")
    if math.isinf(rho) or rho <= 0:
        raise BudgetError(f"an annual cap must be positive and finite, got {rho}")
    if rho > QUARTERS * plan.max_rho:
        raise BudgetError(
            f"an annual cap of {rho:g} is above four quarters at the plan's limit "
            f"({QUARTERS * plan.max_rho:g}), so it would cap nothing"
        )
    return float(rho)


def set_annual_cap(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    *,
    ngo_id: str,
    rho: float,
    by: str,
    note: str | None = None,
) -> None:
    """Set an NGO's (or, with ``ngo_id='*'``, the default) rolling-year cap; audited.

    Refused when any four consecutive quarters have already spent more than the new cap for
    that NGO (or, for the default, for any NGO relying on it), saying what they spent.
    """
    rho = check_annual_rho(rho, plan)
    own = budget_table.annual_caps(con)
    spent = {
        (str(r.period), str(r.ngo_id)): float(r.rho)
        for r in releases.spent_by_ngo_period(con).itertuples()
    }
    ngos = {n for _, n in spent}
    busiest = busiest_ever(spent, annual_caps(con, plan, ngos))
    if ngo_id != DEFAULT:
        year = busiest.get(ngo_id)
        if year is not None and rho < year.spent * (1 - TOLERANCE):
            raise BudgetError(
                f"{ngo_id} has already spent rho {year.spent:.4g} in the four quarters "
                f"{year.window} ({year.spent_text()}); an annual cap of {rho:g} would be below "
                "it. A cap can only be set at or above what any four consecutive quarters spent."
            )
    else:
        over = sorted(
            (y for n, y in busiest.items() if n not in own and y.spent > rho * (1 + TOLERANCE)),
            key=lambda y: -y.spent,
        )
        if over:
            top = over[0]
            raise BudgetError(
                f"{len(over)} NGO(s) relying on the default cap have already spent more than "
                f"{rho:g} in four consecutive quarters (e.g. {top.ngo_id}: rho {top.spent:.4g} in "
                f"{top.window}: {top.spent_text()}); set a default cap of at least "
                f"{top.spent:.4g}, or give those NGOs caps of their own first."
            )
    with transaction(con):
        budget_table.upsert_annual_cap(
            con, ngo_id=ngo_id, rho=rho, by=by, at=datetime.now(UTC), note=note
        )
        audit.record(
            con,
            [
                audit.Event(
                    by,
                    "annual_cap_set",
                    ngo_id,
                    {
                        "rho": rho,
                        "previous_rho": own.get(ngo_id),
                        "note": note,
                        "epsilon": round(epsilon_at(rho, plan.delta), 4),
                        "delta": plan.delta,
                    },
                )
            ],
        )
