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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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
        # In published units: a statistic counted in 1/resolution units is divided back.
        return _scale(plan, name, rho) / plan.measure(name).statistic.resolution, True
    d = derived[name]
    inner, _ = _noise_of(plan, d.inputs[0], rho)
    cells = len(plan.key_sets[d.over]) if d.over else 1
    return inner * math.sqrt(cells), False


def _unit(plan: ReleasePlan, name: str) -> str:
    stat = plan.base_of(name).statistic.name
    if stat.endswith("change_total"):
        return "score points"
    return {"sessions": "sessions"}.get(stat, "clients")


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
    if not single:
        return Z_95 * scale
    resolution = plan.measure(name).statistic.resolution
    return halfwidth_95(scale * resolution) / resolution


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
        ratio_units = {
            "percentage_points": "share",
            "score_points": "score points",
            "value": "sessions per client",
        }
        unit = ratio_units[d.scale] if d.kind == "ratio" else _unit(plan, d.id)
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


# --- The steward's reading: every measure in its own unit, and what a budget means for NGOs of
# typical sizes. Presentation only; the numbers come from ``halfwidth`` above.

Verdict = str  # "ok" | "low" | "withheld", as the release flags cells


@dataclass(frozen=True)
class Unit:
    """How a measure's numbers are read: its name, how to print one, and the whole scale."""

    key: str
    """What ``--target`` calls it: clients, sessions, score, share, rate."""
    name: str
    factor: float
    """Printed value = value * factor (a share is printed in percentage points)."""
    digits: int
    span: float | None
    """The whole scale, in the printed unit; a half-width never shows wider than this."""

    def show(self, value: float) -> str:
        shown = value * self.factor
        if self.digits == 0:
            return f"{shown:,.0f}"
        return f"{shown:,.{self.digits}f}"

    def plus_minus(self, halfwidth: float) -> str:
        """``± 4.3 percentage points``; capped at the whole scale, never in scientific notation."""
        if not math.isfinite(halfwidth) or (
            self.span is not None and halfwidth * self.factor >= self.span
        ):
            return "wider than the whole scale"
        return f"± {self.show(halfwidth)} {self.name}"


def unit_of(plan: ReleasePlan, name: str) -> Unit:
    """The unit a measure's cells are read in (the unit of ``--target``)."""
    derived = {d.id: d for d in plan.derived}
    is_ratio = name in derived and derived[name].kind == "ratio"
    stat = plan.base_of(derived[name].inputs[0] if is_ratio else name).statistic.name
    if is_ratio:
        low, high = plan.ratio_range(derived[name])
        scale = plan.scale_of(name)
        if scale == "score_points":
            return Unit("score", "score points", 1.0, 2, high - low)
        if scale == "value":
            return Unit("rate", "sessions per client", 1.0, 1, high - low)
        return Unit("share", "percentage points", 100.0, 1, 100.0)
    if stat == "sessions":
        return Unit("sessions", "sessions", 1.0, 0, None)
    if stat.endswith("change_total"):
        return Unit("score", "score points", 1.0, 0, None)
    return Unit("clients", "clients", 1.0, 0, None)


UNIT_KEYS = ("clients", "sessions", "share", "score", "rate")


# What a typical NGO's clients look like, for the planner's "how many cells would be ok".
# A steward's planner never reads the vault: these are stated assumptions, replaced by the
# last published release's whole-sector figures (public, noisy) where there is one.
@dataclass(frozen=True)
class Typical:
    """The mix of a typical NGO's quarter, as shares of its clients."""

    sessions_per_client: float = 5.0
    share_paired: float = 0.5
    share_asked: float = 0.5
    share_satisfied: float = 0.8
    share_improved: float = 0.5
    share_exited: float = 0.3
    mean_change: float = 0.5
    programmes: int = 2
    regions: int = 2
    source: str = "the planner's assumptions (nothing is published yet)"
    sector: int = 4000
    """Clients the whole sector serves in a quarter."""


def _cells_for_ngo(plan: ReleasePlan, dims: tuple[str, ...], typical: Typical) -> int:
    """How many cells of a breakdown an NGO has (programmes and regions: those it runs)."""
    local = {"programme": typical.programmes, "region": typical.regions}
    return math.prod(min(local.get(d, len(plan.key_sets[d])), len(plan.key_sets[d])) for d in dims)


def _value(plan: ReleasePlan, name: str, clients: float, typical: Typical, cells: int) -> float:
    """The expected value of one cell of ``name`` for a group of ``clients`` spread evenly over
    ``cells`` cells of its breakdown (a statement of the planner's assumptions, not of data)."""
    derived = {d.id: d for d in plan.derived}
    if name in derived:
        d = derived[name]
        if d.kind == "ratio":
            den = _value(plan, d.inputs[1], clients, typical, cells)
            return _value(plan, d.inputs[0], clients, typical, cells) / max(den, 1.0)
        return _value(plan, d.inputs[0], clients, typical, cells) * (
            len(plan.key_sets[d.over]) if d.over else 1
        )
    m = plan.measure(name)
    per_cell = clients / max(cells, 1)
    paired = per_cell * typical.share_paired
    asked = per_cell * typical.share_asked
    by_statistic = {
        "distinct_clients": per_cell * (typical.share_exited if m.where else 1.0),
        "sessions": per_cell * typical.sessions_per_client,
        "satisfaction_respondents": asked,
        "satisfied_clients": asked * typical.share_satisfied,
        "paired_clients": paired,
        "improved_any_clients": paired * typical.share_improved,
        "change_pairs": paired,
        "change_total": paired * typical.mean_change,
        "improved_clients": paired * typical.share_improved,
        "change_distribution": paired / 3,
    }
    name = m.statistic.name
    if name in by_statistic:
        return by_statistic[name]
    # Statistics added after these assumptions were written, read by what they count.
    if name.endswith("change_total"):
        return paired * typical.mean_change
    if "improved" in name or "worse" in name:
        return paired * typical.share_improved
    if "pairs" in name or "paired" in name:
        return paired
    return per_cell


def verdict(plan: ReleasePlan, name: str, value: float, halfwidth: float) -> Verdict:
    """The flag the release would give a cell of this value and half-width, on its own
    (:func:`steward_plan` adds a ratio's parts, as the release does)."""
    derived = {d.id: d for d in plan.derived}
    scale = plan.scale_of(name)
    if name in derived and derived[name].kind == "ratio":
        return plan.judge_ratio(scale, value, halfwidth)
    return plan.judge(scale, value, halfwidth)


_ORDER = {"ok": 0, "low": 1, "withheld": 2}


def _with_parts(
    plan: ReleasePlan, name: str, own: Verdict, *, rho: float, clients: float, t: Typical, k: int
) -> Verdict:
    """A ratio's flag as the release gives it: never better than its denominator's, nor its
    numerator's unless the numerator is a signed total (see the release's post-processing)."""
    derived = {d.id: d for d in plan.derived}
    if name not in derived or derived[name].kind != "ratio":
        return own
    num, den = derived[name].inputs
    parts = [den] if plan.base_of(num).statistic.signed else [num, den]
    flags = [own]
    for part in parts:
        value = _value(plan, part, clients, t, k)
        flags.append(verdict(plan, part, value, halfwidth(plan, part, rho, clients)))
    return max(flags, key=lambda f: _ORDER[f])


@dataclass(frozen=True)
class PlanRow:
    """One measure in the steward's reading of a budget."""

    measure: str
    title: str
    question: str
    scope: str
    breakdown: tuple[str, ...]
    headline: bool
    unit: Unit
    halfwidth: float
    """The expected 95% half-width of one cell (ratios: a cell of ``cell_size`` clients)."""
    cells: int
    verdicts: tuple[tuple[int, Verdict], ...]
    """For each typical NGO size (clients in a quarter): what its cells of this measure would be.
    Pooled measures: one entry, for the whole sector (``Typical.sector`` clients)."""
    halfwidths: tuple[float, ...] = ()
    """For each typical NGO size, the expected 95% half-width of one of its cells."""


def _ratio_halfwidth(
    plan: ReleasePlan, name: str, rho: float, *, clients: float, t: Typical, k: int
) -> float:
    """The ratio's half-width for a cell whose denominator holds what a typical group has."""
    derived = {d.id: d for d in plan.derived}
    d = derived[name]
    den = _value(plan, d.inputs[1], clients, t, k)
    sn, _ = _noise_of(plan, d.inputs[0], rho)
    sd, _ = _noise_of(plan, d.inputs[1], rho)
    r = _value(plan, name, clients, t, k)
    return Z_95 * math.sqrt(sn**2 + (r * sd) ** 2) / max(den, 1.0)


def steward_plan(
    plan: ReleasePlan,
    rho: float,
    sizes: tuple[int, ...],
    typical: Typical = Typical(),
    cell_size: float = 100.0,
) -> list[PlanRow]:
    """Every measure at per-NGO budget ``rho``: its expected 95% ± in its own unit and, for
    per-NGO measures, what the cells of NGOs of each of ``sizes`` clients would be flagged."""
    derived = {d.id: d for d in plan.derived}
    headline_ids = {m for ids in plan.headlines.values() for m in ids}
    rows = []
    for c in cell_classes(plan):
        dims = plan.dimensions_of(c.measure)
        is_ratio = c.measure in derived and derived[c.measure].kind == "ratio"
        question = (
            derived[c.measure].question
            if c.measure in derived
            else plan.measure(c.measure).question
        )
        verdicts: list[tuple[int, Verdict]] = []
        widths: list[float] = []
        if c.scope == "ngo":
            k = _cells_for_ngo(plan, dims, typical)
            for size in sizes:
                value = _value(plan, c.measure, size, typical, k)
                hw = (
                    _ratio_halfwidth(plan, c.measure, rho, clients=size, t=typical, k=k)
                    if is_ratio
                    else halfwidth(plan, c.measure, rho, size)
                )
                own = verdict(plan, c.measure, value, hw)
                verdicts.append(
                    (size, _with_parts(plan, c.measure, own, rho=rho, clients=size, t=typical, k=k))
                )
                widths.append(hw)
        else:
            k = math.prod(len(plan.key_sets[d]) for d in dims)
            value = _value(plan, c.measure, typical.sector, typical, k)
            hw = (
                _ratio_halfwidth(plan, c.measure, rho, clients=typical.sector, t=typical, k=k)
                if is_ratio
                else halfwidth(plan, c.measure, rho, typical.sector)
            )
            own = verdict(plan, c.measure, value, hw)
            verdicts.append(
                (
                    typical.sector,
                    _with_parts(
                        plan, c.measure, own, rho=rho, clients=typical.sector, t=typical, k=k
                    ),
                )
            )
            widths.append(hw)
        rows.append(
            PlanRow(
                measure=c.measure,
                title=c.title,
                question=question,
                scope=c.scope,
                breakdown=dims,
                headline=c.measure in headline_ids,
                unit=unit_of(plan, c.measure),
                halfwidth=halfwidth(plan, c.measure, rho, cell_size),
                cells=k,
                verdicts=tuple(verdicts),
                halfwidths=tuple(widths),
            )
        )
    return rows


def budget_for_targets(
    plan: ReleasePlan, targets: Mapping[str, float], cell_size: float = 100.0
) -> pd.DataFrame:
    """The smallest rho giving each measure whose unit has a target a 95% ± within it.

    ``targets`` maps a unit key (clients, sessions, share, score, rate) to a half-width in that
    unit as printed (a share's target is in percentage points)."""
    unknown = set(targets) - set(UNIT_KEYS)
    if unknown:
        raise ValueError(
            f"unknown unit(s) {sorted(unknown)}: a target is one of {', '.join(UNIT_KEYS)}"
        )
    frames = []
    for key, target in targets.items():
        names = [c.measure for c in cell_classes(plan) if unit_of(plan, c.measure).key == key]
        factor = 100.0 if key == "share" else 1.0
        table = budget_for(plan, target / factor, cell_size)
        table = table[table["measure"].isin(names)].copy()
        table["unit_key"] = key
        table["target"] = target
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


DEFAULT_SIZES = (50, 200, 1000)


def typical_from_published(published_db: Path) -> tuple[tuple[int, ...], Typical] | None:
    """NGO sizes and a sector's mix from the last published release (public, noisy figures):
    the quartiles and the 90th percentile of the NGOs' released clients served, and the
    whole-sector sessions per client and shares. ``None`` when nothing usable is published.
    The planner never reads the vault."""
    from pipelines.published.store import NotPublished, current_cells

    try:
        cells = current_cells(published_db)
    except NotPublished:
        return None
    if cells.empty:
        return None
    latest = cells[cells["period"] == cells["period"].max()]

    def pooled(measure: str, default: float) -> float:
        row = latest[(latest["measure"] == measure) & latest["ngo_id"].isna()]
        value = row["value"].dropna()
        return float(value.iloc[0]) if len(value) else default

    sizes = latest[(latest["measure"] == "ngo_clients_total")]["value"].dropna()
    sizes = sizes[sizes >= 1]
    if len(sizes) == 0:
        return None
    picked = sorted({max(1, round(float(sizes.quantile(q)))) for q in (0.25, 0.5, 0.9)})
    base = Typical()
    mix = Typical(
        sessions_per_client=pooled("sessions_per_client_overall", base.sessions_per_client),
        share_paired=pooled("share_paired_overall", base.share_paired),
        share_satisfied=pooled("share_satisfied_overall", base.share_satisfied),
        share_improved=pooled("share_improved_overall", base.share_improved),
        source=f"the {latest['period'].iloc[0]} release ({len(sizes)} NGOs, noisy public figures)",
        sector=max(1, round(pooled("clients_total", float(base.sector)))),
    )
    return tuple(picked), mix
