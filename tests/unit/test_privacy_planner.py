"""The steward's planner: expected half-widths before spending, and the budget for a target."""

from __future__ import annotations

import math

import pytest

from pipelines.privacy.mechanisms import calibrate, halfwidth_95
from pipelines.privacy.plan import default_plan
from pipelines.privacy.planner import accuracy_table, budget_for, halfwidth


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
    exactly the discrete-Gaussian half-width of the scale a release would calibrate."""
    plan = default_plan()
    table = accuracy_table(plan, rho).set_index("measure")
    for m in plan.measures:
        scale = calibrate(plan.sensitivity(m).l2, plan.share(m) * rho).scale
        assert table.loc[m.id, "halfwidth_95"] == halfwidth_95(scale), m.id


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
