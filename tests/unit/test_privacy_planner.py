"""The steward's planner: expected half-widths before spending, and the budget for a target."""

from __future__ import annotations

import math
import re

import pytest

from pipelines.privacy.mechanisms import calibrate, halfwidth_95
from pipelines.privacy.plan import default_plan
from pipelines.privacy.planner import (
    accuracy_table,
    budget_for,
    budget_for_targets,
    halfwidth,
    steward_plan,
)


def _exact_coverage(scale: float, h: float) -> float:
    """P(|X| <= h) for the discrete Gaussian of ``scale``, summed from its mass function."""
    top = int(60 * scale) + 60
    weights = [math.exp(-(x * x) / (2 * scale * scale)) for x in range(-top, top + 1)]
    inside = sum(w for x, w in zip(range(-top, top + 1), weights, strict=True) if abs(x) <= h)
    return inside / sum(weights)


@pytest.mark.parametrize("scale", [0.7, 1.0, 2.5, 3.81, 5.39, 9.33, 21.54, 86.16, 323.1])
def test_the_count_halfwidth_is_the_tightest_with_95_percent_coverage(scale: float) -> None:
    """Tests, exactly from the discrete Gaussian's mass function, that ``halfwidth_95(s)``
    covers at least 95% of the noise and one less covers under 95%: the published count
    intervals are honest and not wider than they need be."""
    h = halfwidth_95(scale)
    assert h == int(h)
    assert _exact_coverage(scale, h) >= 0.95
    assert _exact_coverage(scale, h - 1) < 0.95


@pytest.mark.parametrize("rho", [0.05, 0.5, 2.0])
def test_planned_halfwidths_of_counts_match_the_calibrated_mechanism(rho: float) -> None:
    """Tests that the planner's expected 95% half-width of every count and sum cell class is
    exactly the discrete-Gaussian half-width of the scale a release would calibrate (a sum
    counted in tenths of a point: that half-width in tenths, shown in points)."""
    plan = default_plan()
    table = accuracy_table(plan, rho).set_index("measure")
    for m in plan.measures:
        scale = calibrate(plan.sensitivity(m).l2, plan.share(m) * rho).scale
        resolution = m.statistic.resolution
        assert table.loc[m.id, "halfwidth_95"] == halfwidth_95(scale) / resolution, m.id


@pytest.mark.parametrize(("target", "cell_size"), [(5.0, 100.0), (20.0, 100.0), (0.05, 400.0)])
def test_the_budget_for_a_target_is_just_enough(target: float, cell_size: float) -> None:
    """Tests the reverse question: for each cell class the budget given reaches the target
    half-width, and 90% of it does not (so it is not needlessly large)."""
    plan = default_plan()
    needed = budget_for(plan, target, cell_size)
    reachable = needed[needed["rho_needed"].map(math.isfinite)]
    assert len(reachable) > 0
    for row in reachable.itertuples():
        assert halfwidth(plan, row.measure, row.rho_needed, cell_size) <= target, row.measure
        if row.rho_needed > plan.min_rho:  # at the floor, less is not a budget anyone may set
            assert halfwidth(plan, row.measure, 0.9 * row.rho_needed, cell_size) > target


def test_every_measure_reads_in_its_own_unit_and_never_wider_than_its_scale() -> None:
    """Tests that the steward's reading names each measure's unit (clients, sessions, score
    points, percentage points, sessions per client), prints no scientific notation even for
    a budget at the plan's floor, and says "wider than the whole scale" instead of a share's
    ± above 100 percentage points."""
    plan = default_plan()
    for rho in (plan.min_rho, plan.default_rho, plan.max_rho):
        for row in steward_plan(plan, rho, (20, 200, 5000)):
            for hw in (row.halfwidth, *row.halfwidths):
                text = row.unit.plus_minus(hw)
                assert not re.search(r"\d[eE][+-]?\d", text), (row.measure, text)
                if row.unit.span is not None and hw * row.unit.factor >= row.unit.span:
                    assert text == "wider than the whole scale"
                else:
                    assert text.endswith(row.unit.name), (row.measure, text)
    units = {row.measure: row.unit.key for row in steward_plan(plan, 0.5, (100,))}
    assert units["clients_total"] == "clients"
    assert units["sessions_total"] == "sessions"
    assert units["share_paired_overall"] == "share"
    assert units["mean_change_by_domain"] == "score"
    assert units["sessions_per_client_overall"] == "rate"


def test_a_bigger_ngo_or_a_bigger_budget_never_makes_a_cell_worse() -> None:
    """Tests that the planner's verdict for a per-NGO measure never gets worse as the NGO
    grows or the budget grows, and that it is the release's own flag for the cell's expected
    value and half-width."""
    plan = default_plan()
    rank = {"ok": 0, "low": 1, "withheld": 2}
    sizes = (10, 50, 200, 1000, 10000)
    previous: dict[str, list[int]] = {}
    for rho in (0.05, 0.5, 4.0):
        for row in steward_plan(plan, rho, sizes):
            if row.scope != "ngo":
                continue
            ranks = [rank[v] for _, v in row.verdicts]
            assert ranks == sorted(ranks, reverse=True), (row.measure, rho, row.verdicts)
            if row.measure in previous:
                assert all(a <= b for a, b in zip(ranks, previous[row.measure], strict=True)), (
                    row.measure
                )
            previous[row.measure] = ranks


def test_the_budget_for_a_target_is_asked_in_each_measures_unit() -> None:
    """Tests that a share's target is read in percentage points: share=10 is the budget at
    which a share's half-width is at most 0.10, and an unknown unit is refused by name."""
    plan = default_plan()
    table = budget_for_targets(plan, {"share": 10.0})
    assert set(table["unit_key"]) == {"share"}
    for row in table[table["rho_needed"].map(math.isfinite)].itertuples():
        assert halfwidth(plan, row.measure, row.rho_needed, 100.0) <= 0.10 + 1e-12
    with pytest.raises(ValueError, match="furlongs"):
        budget_for_targets(plan, {"furlongs": 1.0})
