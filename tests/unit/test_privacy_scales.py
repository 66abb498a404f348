"""Flags that mean the same thing everywhere: each measure's scale, its rule, and ratios that
are never better than the numbers they are built from."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from dp_helpers import plan_doc

from pipelines.hub.publish import _measures
from pipelines.privacy.plan import SCALES, PlanError, default_plan, parse_plan
from pipelines.privacy.planner import verdict
from pipelines.privacy.postprocess import PART_WITHHELD, ratio_cells


def test_every_ratio_declares_a_scale_and_the_plan_gives_each_scale_a_rule() -> None:
    """Tests that shares are judged in percentage points, means in score points and sessions
    per client on their value; that each scale has one plain sentence; and that the
    published measures table carries every measure's scale and rule."""
    plan = default_plan()
    assert plan.scale_of("share_paired_overall") == "percentage_points"
    assert plan.scale_of("mean_change_by_ethnicity") == "score_points"
    assert plan.scale_of("ngo_sessions_per_client") == "value"
    assert plan.scale_of("ngo_clients_total") == "value"
    assert plan.reliability_of("share_worse_by_gender").withhold_above == 25
    for scale in SCALES:
        text = plan.rule_text(scale)
        assert text.endswith("."), text
        assert text.count(". ") == 0, text
    table = _measures(plan)
    assert table["scale"].notna().all()
    assert table["rule"].notna().all()
    assert set(table["scale"]) == set(SCALES)


def test_a_ratio_without_a_scale_is_refused() -> None:
    """Tests that a plan whose ratio does not say what its precision is judged on is refused,
    naming the measure."""
    doc = plan_doc()
    doc["derived"] = [dict(d) for d in doc["derived"]]
    for d in doc["derived"]:
        if d["id"] == "share_paired_overall":
            del d["scale"]
    with pytest.raises(PlanError, match=r"share_paired_overall.*declares the scale"):
        parse_plan(doc)


def test_a_scale_without_a_rule_is_refused() -> None:
    """Tests that a plan whose reliability rules leave out a scale is refused."""
    doc = plan_doc()
    doc["reliability"] = {k: v for k, v in doc["reliability"].items() if k != "score_points"}
    with pytest.raises(PlanError, match="needs a rule for score_points"):
        parse_plan(doc)


def test_the_planner_and_the_release_judge_with_the_same_rule() -> None:
    """Tests that a share of ± 8 points is ok and ± 12 low, a mean of ± 0.2 points ok and
    ± 1.5 withheld, and sessions per client 0.85 ± 0.5 is low and ± 1.0 withheld (judged on
    its value, not on its possible range of 0 to 60)."""
    plan = default_plan()
    assert verdict(plan, "ngo_share_paired", 0.5, 0.08) == "ok"
    assert verdict(plan, "ngo_share_paired", 0.5, 0.12) == "low"
    assert verdict(plan, "ngo_mean_change", 0.4, 0.2) == "ok"
    assert verdict(plan, "ngo_mean_change", 0.4, 1.5) == "withheld"
    assert verdict(plan, "ngo_sessions_per_client", 0.85, 0.5) == "low"
    assert verdict(plan, "ngo_sessions_per_client", 0.85, 1.0) == "withheld"
    assert verdict(plan, "ngo_sessions_per_client", 4.0, 0.5) == "ok"
    assert plan.judge("value", 100.0, math.inf) == "withheld"


def _part(value: float, flag: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ngo_id": ["ngo-a"],
            "raw_value": [value],
            "noise_scale": [1.0],
            "rho": [0.01],
            "_governance": [False],
            "reliability": [flag],
        }
    )


@pytest.mark.parametrize(
    ("measure", "num_flag", "den_flag", "expected"),
    [
        ("ngo_share_paired", "ok", "ok", "ok"),
        ("ngo_share_paired", "ok", "low", "low"),
        ("ngo_share_paired", "low", "ok", "low"),
        ("ngo_share_paired", "ok", "withheld", "withheld"),
        ("ngo_share_paired", "withheld", "ok", "withheld"),
        ("ngo_mean_change", "withheld", "ok", "ok"),
        ("ngo_mean_change", "ok", "withheld", "withheld"),
    ],
)
def test_a_ratio_is_never_better_than_its_parts(
    measure: str, num_flag: str, den_flag: str, expected: str
) -> None:
    """Tests that a precise ratio (500 of 1,000, noise 1) takes its denominator's flag when
    worse and its numerator's too, except a mean change, whose signed total has no relative
    precision near zero and is judged through the mean's own rule; a ratio withheld for a
    part says so."""
    plan = default_plan()
    derived = next(d for d in plan.derived if d.id == measure)
    out = ratio_cells(_part(500, num_flag), _part(1000, den_flag), plan, derived, [])
    assert out["reliability"].item() == expected
    if expected == "withheld":
        assert out["withheld_reason"].item() == PART_WITHHELD
