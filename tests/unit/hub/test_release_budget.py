"""A release's budget, without a vault: allotments and the one refusal format."""

from __future__ import annotations

import pytest

from pipelines.hub.ledger import Balance
from pipelines.hub.release.budget import (
    LISTED,
    allotment,
    check_budget,
    check_supersede,
    refusal,
)
from pipelines.hub.release.errors import ReleaseError

PERIOD = "2025-Q3"


def test_a_refusal_lists_the_first_ngos_then_counts_the_rest() -> None:
    """Tests that the one refusal formatter names the subject, says nothing was spent, lists
    at most LISTED NGOs, counts the rest and ends with the fix."""
    lines = [f"ngo-{i:04d}: short" for i in range(LISTED + 3)]
    error = refusal("The release of 2025-Q3", "13 NGO(s) lack the budget.", lines, "Fix it.")
    text = str(error)
    assert text.startswith("The release of 2025-Q3 is refused and nothing was spent: 13 NGO(s)")
    assert f"ngo-{LISTED - 1:04d}" in text
    assert f"ngo-{LISTED:04d}" not in text
    assert "… and 3 more" in text
    assert text.endswith("\nFix it.")


def test_a_release_over_an_ngos_budget_is_refused_with_what_is_left_and_asked() -> None:
    """Tests that the budget check names the NGO, its budget, what it spent, what is left and
    what the release asks, and the command that raises a budget."""
    balances = [Balance("ngo-aroha", PERIOD, 0.5, 0.4), Balance("ngo-kauri", PERIOD, 0.5, 0.0)]
    with pytest.raises(ReleaseError, match="refused and nothing was spent") as caught:
        check_budget(PERIOD, balances, {"ngo-aroha": 0.2, "ngo-kauri": 0.2})
    text = str(caught.value)
    assert "ngo-aroha: budget rho 0.5, already spent 0.4, left 0.1, this release asks 0.2" in text
    assert "ngo-kauri" not in text
    assert "outcomes budget set --ngo ID --period 2025-Q3" in text


def test_a_release_within_budget_passes_the_check() -> None:
    """Tests that asking exactly what is left (to float precision) is not refused."""
    check_budget(PERIOD, [Balance("ngo-aroha", PERIOD, 0.5, 0.3)], {"ngo-aroha": 0.2})


def test_the_allotment_is_the_budget_less_what_other_releases_spent() -> None:
    """Tests that a release is calibrated on each NGO's budget less the period's other spends,
    and that an NGO with nothing left refuses the release before any mechanism."""
    assert allotment(PERIOD, {"a-1": 1.0, "b-2": 0.5}, {"a-1": 0.25}) == {"a-1": 0.75, "b-2": 0.5}
    with pytest.raises(ReleaseError, match=r"1 NGO\(s\) have spent their whole budget"):
        allotment(PERIOD, {"a-1": 0.5}, {"a-1": 0.5})


def test_a_supersede_that_would_be_noisier_names_the_budget_that_fixes_it() -> None:
    """Tests that superseding with less budget left than the release it replaces was calibrated
    on is refused, naming the NGOs and a budget (rounded up) that is enough."""
    with pytest.raises(ReleaseError, match="noisier than the one it replaces") as caught:
        check_supersede(
            PERIOD, "2025-Q3-r1", {"a-1": 0.5}, base={"a-1": 0.01}, entitled={"a-1": 0.49}
        )
    text = str(caught.value)
    assert "a-1: left 0.01, 2025-Q3-r1 was calibrated on 0.49" in text
    assert "--rho 0.98`" in text
    check_supersede(PERIOD, "2025-Q3-r1", {"a-1": 1.0}, base={"a-1": 0.5}, entitled={"a-1": 0.5})
