"""Planning a release's parts, without a vault: who pays, at what scale, what waits for approval."""

from __future__ import annotations

import pytest

from pipelines.hub.release.parts import charges, contributing, part_id, plan_parts
from pipelines.privacy.mechanisms import calibrate
from pipelines.privacy.plan import ALL, OPEN, Component, default_plan

NGOS = ["ngo-aroha", "ngo-kauri"]
EVERYONE = {"episodes": NGOS, "assessments": NGOS}


def test_assessments_count_only_for_ngos_with_accepted_episodes() -> None:
    """Tests that an NGO whose only current submission is assessments contributes to no
    assessment measure (its assessments have no episodes to join)."""
    found = contributing(
        [("episodes", "ngo-aroha"), ("assessments", "ngo-aroha"), ("assessments", "ngo-kauri")]
    )
    assert found == {"episodes": ["ngo-aroha"], "assessments": ["ngo-aroha"]}


def test_a_pooled_part_charges_every_contributor_and_a_per_ngo_part_only_its_own() -> None:
    """Tests that a pooled part is calibrated on the smallest budget among contributors and
    charged to all of them, while a per-NGO part is calibrated on and charged to its NGO."""
    plan = default_plan()
    budget = {"ngo-aroha": 0.5, "ngo-kauri": 2.0}
    parts, _pending = plan_parts(plan, EVERYONE, budget, frozenset())
    pooled = next(p for p in parts if p.measure.id == "clients_total")
    own = next(p for p in parts if p.measure.id == "ngo_clients_total" and p.ngo_id == "ngo-kauri")
    assert pooled.charged == tuple(NGOS)
    share = plan.share(pooled.measure)
    assert pooled.calibration == calibrate(plan.sensitivity(pooled.measure).l2, share * 0.5)
    assert own.charged == ("ngo-kauri",)
    own_share = plan.share(own.measure)
    assert own.calibration == calibrate(plan.sensitivity(own.measure).l2, own_share * 2.0)
    assert pooled.part_id == part_id("clients_total", ALL, None) == "clients_total:all:pooled"


def test_governed_cells_wait_for_approval_and_spend_nothing_meanwhile() -> None:
    """Tests that without the governance group's approval the Māori-data components of a
    measure are pending, not planned; with it they are planned and charged."""
    plan = default_plan()
    budget = dict.fromkeys(NGOS, 0.5)
    waiting, pending = plan_parts(plan, EVERYONE, budget, frozenset())
    approved, none_pending = plan_parts(plan, EVERYONE, budget, frozenset({("ethnicity", "maori")}))
    governed = Component.governed_by("ethnicity", "maori")
    assert f"clients_by_ethnicity:{governed}" in pending
    assert not any(p.component.governed for p in waiting)
    assert none_pending == []
    assert {p.component for p in approved if p.measure.id == "clients_by_ethnicity"} == {
        OPEN,
        governed,
    }
    assert charges(approved)["ngo-aroha"] > charges(waiting)["ngo-aroha"]


def test_parts_already_computed_are_not_planned_again() -> None:
    """Tests that an addendum plans only what its release has not computed yet."""
    plan = default_plan()
    budget = dict.fromkeys(NGOS, 0.5)
    everything, _ = plan_parts(plan, EVERYONE, budget, frozenset())
    done = frozenset(p.part_id for p in everything)
    again, _ = plan_parts(plan, EVERYONE, budget, frozenset(), done)
    assert again == []


def test_charges_add_up_every_part_an_ngo_pays_for() -> None:
    """Tests that an NGO's charge is the sum of the rho of every part that charges it."""
    plan = default_plan()
    parts, _ = plan_parts(plan, EVERYONE, dict.fromkeys(NGOS, 0.5), frozenset())
    expected = sum(p.calibration.rho for p in parts if "ngo-aroha" in p.charged)
    assert charges(parts)["ngo-aroha"] == pytest.approx(expected, rel=1e-12)
    assert charges(parts)["ngo-aroha"] <= 0.5 * (1 + 1e-9)
