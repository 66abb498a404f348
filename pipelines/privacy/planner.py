"""Accuracy before spending: what a budget buys, and what budget buys a given accuracy.

For each cell class of the release plan (a measure, pooled or per NGO) this
gives the expected 95% half-width under a proposed per-NGO budget rho, and
answers the reverse question: the rho at which that half-width falls to a
target. Nothing here reads data or spends budget. Ratios (shares, means) are
evaluated for a cell whose denominator is ``cell_size`` and whose value is in
the middle of its possible range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipelines.privacy.mechanisms import Z_95, calibrate, epsilon_at, halfwidth_95
from pipelines.privacy.plan import Derived, ReleasePlan

RHO_GRID = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class CellClass:
    measure: str
    title: str
    scope: str
    kind: str  # count | sum | ratio
    unit: str


def _scale(plan: ReleasePlan, measure_id: str, rho: float) -> float:
    measure = plan.measure(measure_id)
    return calibrate(plan.sensitivity(measure).l2, plan.share(measure) * rho).scale


def _noise_of(plan: ReleasePlan, name: str, rho: float) -> tuple[float, bool]:
    """(standard deviation of a cell's noise, whether it is a single discrete draw)."""
    derived = {d.id: d for d in plan.derived}
    if name not in derived:
        return _scale(plan, name, rho), True
    d = derived[name]
    inner, _ = _noise_of(plan, d.inputs[0], rho)
    cells = len(plan.key_sets[d.over]) if d.over else 1
    return inner * math.sqrt(cells), False


def _unit(plan: ReleasePlan, name: str) -> str:
    stat = plan.base_of(name).statistic.name
    return {"sessions": "sessions", "change_total": "score points"}.get(stat, "clients")


def halfwidth(plan: ReleasePlan, name: str, rho: float, cell_size: float) -> float:
    """Expected 95% half-width of a cell of measure ``name`` when every NGO's budget is ``rho``."""
    derived = {d.id: d for d in plan.derived}
    if name in derived and derived[name].kind == "ratio":
        d: Derived = derived[name]
        sn, _ = _noise_of(plan, d.inputs[0], rho)
        sd, _ = _noise_of(plan, d.inputs[1], rho)
        low, high = plan.ratio_range(d)
        r = (low + high) / 2
        return Z_95 * math.sqrt(sn**2 + (r * sd) ** 2) / max(cell_size, 1.0)
    scale, single = _noise_of(plan, name, rho)
    return halfwidth_95(scale) if single else Z_95 * scale


def cell_classes(plan: ReleasePlan) -> list[CellClass]:
    classes = [
        CellClass(
            m.id,
            m.title,
            m.scope,
            "sum" if m.statistic.kind == "sum" else "count",
            _unit(plan, m.id),
        )
        for m in plan.measures
    ]
    for d in plan.derived:
        base = plan.base_of(d.inputs[0])
        kind = "ratio" if d.kind == "ratio" else "sum"
        unit = (
            "share"
            if d.kind == "ratio" and plan.ratio_range(d) == (0.0, 1.0)
            else (
                "score points"
                if d.kind == "ratio" and base.statistic.name == "change_total"
                else "sessions per client"
                if d.kind == "ratio"
                else _unit(plan, d.id)
            )
        )
        classes.append(CellClass(d.id, d.title, base.scope, kind, unit))
    return classes


def accuracy_table(plan: ReleasePlan, rho: float, cell_size: float = 100.0) -> pd.DataFrame:
    """Every cell class's expected 95% half-width at per-NGO budget ``rho``."""
    rows = []
    for c in cell_classes(plan):
        rows.append(
            {
                "measure": c.measure,
                "title": c.title,
                "scope": c.scope,
                "kind": c.kind,
                "unit": c.unit,
                "rho": rho,
                "epsilon": epsilon_at(rho, plan.delta),
                "halfwidth_95": halfwidth(plan, c.measure, rho, cell_size),
                "cell_size": cell_size,
            }
        )
    return pd.DataFrame(rows)


def budget_for(plan: ReleasePlan, target: float, cell_size: float = 100.0) -> pd.DataFrame:
    """The smallest per-NGO rho (to 0.1%) giving each cell class a 95% half-width of at most ``target``."""
    if not (math.isfinite(target) and target > 0):
        raise ValueError(f"the target half-width must be positive, got {target}")
    rows = []
    for c in cell_classes(plan):
        lo, hi = plan.min_rho, 1e6
        if halfwidth(plan, c.measure, hi, cell_size) > target:
            needed = math.inf
        elif halfwidth(plan, c.measure, lo, cell_size) <= target:
            needed = lo  # the plan's floor already reaches the target
        else:
            for _ in range(60):
                mid = math.sqrt(lo * hi)
                if halfwidth(plan, c.measure, mid, cell_size) <= target:
                    hi = mid
                else:
                    lo = mid
                if hi / lo < 1.001:
                    break
            needed = hi
        rows.append(
            {
                "measure": c.measure,
                "title": c.title,
                "scope": c.scope,
                "kind": c.kind,
                "unit": c.unit,
                "target_halfwidth": target,
                "cell_size": cell_size,
                "rho_needed": needed,
                "epsilon_needed": epsilon_at(needed, plan.delta)
                if math.isfinite(needed)
                else math.inf,
                "within_max_rho": needed <= plan.max_rho,
            }
        )
    return pd.DataFrame(rows)


def accuracy_curves(plan: ReleasePlan, cell_size: float = 100.0) -> pd.DataFrame:
    """Half-width against budget for every cell class, for the steward's dashboard."""
    return pd.concat([accuracy_table(plan, rho, cell_size) for rho in RHO_GRID], ignore_index=True)
