"""The release plan is refused, before anything touches data, when it names what cannot be released."""

from __future__ import annotations

import math

import pytest
from dp_helpers import plan_doc

from pipelines.privacy.plan import PlanError, default_plan, parse_plan


def _with_measure(**fields: object) -> dict[str, object]:
    doc = plan_doc()
    measure = {
        "id": "bad_measure",
        "question": "how_much",
        "statistic": "distinct_clients",
        "scope": "pooled",
        "by": ["programme"],
        "weight": 1,
    }
    measure.update(fields)
    doc["measures"] = [*doc["measures"], measure]
    return doc


def test_a_plan_naming_an_unknown_column_is_refused() -> None:
    """Tests that a breakdown by a column no contract has is refused with the measure and the
    column named."""
    with pytest.raises(
        PlanError,
        match=r"measure 'bad_measure': 'favourite_colour' is not a column of any contract",
    ):
        parse_plan(_with_measure(by=["programme", "favourite_colour"]))


def test_a_plan_grouping_by_a_column_without_an_enum_is_refused() -> None:
    """Tests that a breakdown by a real column with no contract enum (sessions), which has no
    public key set, is refused, saying so and naming the dimensions that can be used."""
    with pytest.raises(
        PlanError,
        match=r"measure 'bad_measure': 'sessions' has no enum in the contracts, so it has no "
        r"public key set; group only by .*programme",
    ):
        parse_plan(_with_measure(by=["sessions"]))


def test_the_shipped_plan_is_valid_and_keys_come_from_the_contracts() -> None:
    """Tests that the plan in the repository parses and that every breakdown's keys are the
    contracts' enum values (the plan never restates them)."""
    plan = default_plan()
    assert plan.key_sets["programme"][0] == "family_violence"
    assert len(plan.key_sets["region"]) == 16
    assert plan.key_sets["change"] == tuple(str(c) for c in range(-4, 5))
    shares = sum(plan.share(m) * len(plan.components(m)) for m in plan.measures)
    assert math.isclose(shares, 1.0)


@pytest.mark.parametrize(
    ("annual", "message"),
    [
        (None, r"release plan, privacy: annual_rho must be a positive number, got None"),
        (-1, r"annual_rho must be a positive number, got -1"),
        (0.25, r"annual_rho 0\.25 is below default_rho 0\.5: not even one quarter"),
        (41, r"annual_rho 41 is above four quarters at max_rho \(40\), so it would cap nothing"),
    ],
    ids=["missing", "negative", "below-one-quarter", "above-four-max-quarters"],
)
def test_a_rolling_year_cap_that_cannot_work_is_refused(annual: object, message: str) -> None:
    """Tests that the plan's rolling-year cap (annual_rho) must be given, positive, room for one
    quarter at the default budget and no more than four quarters at max_rho."""
    doc = plan_doc()
    if annual is None:
        del doc["privacy"]["annual_rho"]
    else:
        doc["privacy"]["annual_rho"] = annual
    with pytest.raises(PlanError, match=message):
        parse_plan(doc)


def test_the_shipped_plan_fits_four_quarters_at_the_default_budget_in_its_year() -> None:
    """Tests that the shipped rolling-year cap admits four quarters at the default budget (a
    normal year is never refused) and no more (the year's guarantee is what the plan says)."""
    plan = default_plan()
    assert plan.annual_rho == pytest.approx(4 * plan.default_rho)
