"""The budget ledger and governance approvals (steward zone): the rules, checks and messages.

Budgets are zCDP rho per NGO per period; a period's default applies to every
NGO the steward has not set. Every spend is a ledger row written in the same
transaction as the release cells it paid for, so the ledger can never
disagree with what was released. Approvals from the Māori data governance
group are events: the latest for a dimension value and period is in force.
The tables' SQL is in :mod:`pipelines.hub.vault.budgets` and
:mod:`pipelines.hub.vault.releases`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from pipelines.db import transaction
from pipelines.hub import audit
from pipelines.hub.vault import budgets as budget_table
from pipelines.hub.vault import releases
from pipelines.hub.vault.budgets import DEFAULT
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import ReleasePlan

TOLERANCE = 1e-9
"""Relative slack when comparing sums of rho: floating-point addition, not extra budget."""


class BudgetError(ValueError):
    """A budget request that cannot be honoured; the message gives what is left and what was asked."""


@dataclass(frozen=True)
class Balance:
    """One NGO's budget for one period."""

    ngo_id: str
    period: str
    budget: float
    spent: float

    @property
    def left(self) -> float:
        return max(self.budget - self.spent, 0.0)


def check_rho(rho: float, plan: ReleasePlan) -> float:
    """A budget must be a finite number between the plan's ``min_rho`` and ``max_rho``."""
    if not isinstance(rho, int | float) or isinstance(rho, bool) or math.isnan(rho):
        raise BudgetError(f"rho must be a number, got {rho!r}")
    if math.isinf(rho) or rho <= 0:
        raise BudgetError(f"rho must be positive and finite, got {rho}")
    if rho < plan.min_rho:
        raise BudgetError(
            f"rho {rho:g} is below the plan's floor of {plan.min_rho:g}: noise that wide would "
            "leave every cell withheld, and its accuracy cannot be computed in reasonable time. "
            f"Set at least {plan.min_rho:g}, or spend nothing by not releasing."
        )
    if rho > plan.max_rho:
        raise BudgetError(
            f"rho {rho:g} is above the plan's limit of {plan.max_rho:g} "
            f"(epsilon {epsilon_at(rho, plan.delta):.1f} at delta {plan.delta:g}); "
            "that would protect almost nothing. Raise max_rho in the release plan only with "
            "the privacy officer's agreement."
        )
    return float(rho)


def budgets(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str, ngos: Iterable[str]
) -> dict[str, float]:
    """Each NGO's budget for the period: its own, else the period's default, else the plan's."""
    rows = budget_table.for_period(con, period)
    default = float(rows.get(DEFAULT, plan.default_rho))
    return {ngo: float(rows.get(ngo, default)) for ngo in ngos}


def balances(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str, ngos: Iterable[str]
) -> list[Balance]:
    ngos = sorted(set(ngos))
    used = releases.spent(con, period)
    return [
        Balance(n, period, b, used.get(n, 0.0)) for n, b in budgets(con, plan, period, ngos).items()
    ]


def set_budget(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    *,
    period: str,
    ngo_id: str,
    rho: float,
    by: str,
    note: str | None = None,
) -> None:
    """Set an NGO's (or, with ``ngo_id='*'``, the period's default) budget; audited."""
    rho = check_rho(rho, plan)
    used = releases.spent(con, period)
    own = budget_table.for_period(con, period)
    if ngo_id != DEFAULT:
        already = used.get(ngo_id, 0.0)
        if rho < already * (1 - TOLERANCE):
            raise BudgetError(
                f"{ngo_id} has already spent rho {already:.4g} in {period}; "
                f"a budget of {rho:g} would be below it. Budgets can only be set at or above what is spent."
            )
    else:
        over = {n: s for n, s in used.items() if s > rho * (1 + TOLERANCE)}
        below = sorted(n for n in over if n not in own)
        if below:
            raise BudgetError(
                f"{len(below)} NGO(s) relying on the default have already spent more than {rho:g} "
                f"in {period} (e.g. {below[0]}: {over[below[0]]:.4g}); set at least that much."
            )
    with transaction(con):
        budget_table.upsert(
            con, period=period, ngo_id=ngo_id, rho=rho, by=by, at=datetime.now(UTC), note=note
        )
        audit.record(
            con,
            [
                audit.Event(
                    by,
                    "budget_set",
                    f"{period}/{ngo_id}",
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


# --- governance -------------------------------------------------------------------------------


def check_governed(plan: ReleasePlan, dimension: str, value: str) -> None:
    if dimension not in plan.governed or value not in plan.governed[dimension]:
        pairs = ", ".join(f"{d}={v}" for d, vs in plan.governed.items() for v in vs) or "none"
        raise ValueError(
            f"{dimension}={value} is not marked as Māori data in the contracts; governed values: {pairs}"
        )


def decide(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    *,
    action: str,
    dimension: str,
    value: str,
    period: str,
    by: str,
    note: str,
) -> None:
    """Record an approval or a withdrawal by the governance group; audited."""
    if action not in ("approve", "withdraw"):
        raise ValueError(f"action must be approve or withdraw, got {action!r}")
    check_governed(plan, dimension, value)
    if not by.strip():
        raise ValueError("--by must name the person recording the decision")
    if not note.strip():
        raise ValueError(
            "--note must say what the governance group decided and where it is minuted"
        )
    with transaction(con):
        budget_table.record_decision(
            con,
            dimension=dimension,
            value=value,
            period=period,
            action=action,
            by=by,
            note=note,
            at=datetime.now(UTC),
        )
        audit.record(
            con,
            [
                audit.Event(
                    by, f"governance_{action}", f"{period}/{dimension}={value}", {"note": note}
                )
            ],
        )


def approvals_in_force(con: duckdb.DuckDBPyConnection, period: str) -> frozenset[tuple[str, str]]:
    """The (dimension, value) pairs whose latest decision for ``period`` is an approval."""
    return budget_table.approved(con, period)


def ledger_totals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Total spent per NGO and period, from the ledger itself: period, ngo_id, rho."""
    return releases.spent_by_ngo_period(con)
