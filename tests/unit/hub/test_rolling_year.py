"""The rolling year without a vault: which four quarters bind, and the refusal that names them."""

from __future__ import annotations

import pytest

from pipelines.hub.release.budget import check_year
from pipelines.hub.release.errors import ReleaseError
from pipelines.hub.rolling_year import YearBalance, busiest_ever, busiest_year, windows_containing


def test_a_period_is_in_four_windows_of_four_consecutive_quarters() -> None:
    """Tests that the windows containing a quarter are the four that end at it and at each of
    the three quarters after it, across a year end, the one ending at it first."""
    assert windows_containing("2026-Q1") == [
        ("2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"),
        ("2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"),
        ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"),
        ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"),
    ]


def test_the_binding_year_is_the_busiest_window_containing_the_period() -> None:
    """Tests that a release of a period is checked against the four consecutive quarters that
    spent most among those containing it (here the one reaching forward to a released later
    quarter), and, when none spent anything, against the four quarters ending at it."""
    spent = {"2025-Q1": 0.5, "2025-Q4": 0.5, "2026-Q1": 0.5, "2026-Q2": 0.25}
    year = busiest_year("ngo-aroha", "2025-Q3", 2.0, spent)
    assert year.quarters == ("2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2")
    assert year.spent == pytest.approx(1.25)
    assert year.left == pytest.approx(0.75)
    quiet = busiest_year("ngo-aroha", "2030-Q2", 2.0, spent)
    assert quiet.window == "2029-Q3..2030-Q2"
    assert quiet.spent == 0.0


def test_the_busiest_window_ever_is_found_per_ngo() -> None:
    """Tests that, over all of an NGO's spends, the four consecutive quarters that spent most are
    found (what a new cap may not go below), for each NGO on its own."""
    spent = {
        ("2024-Q4", "a-1"): 0.5,
        ("2025-Q1", "a-1"): 0.5,
        ("2025-Q3", "a-1"): 0.5,
        ("2025-Q4", "a-1"): 0.5,
        ("2025-Q1", "b-2"): 0.2,
    }
    found = busiest_ever(spent, {"a-1": 2.0, "b-2": 2.0})
    assert found["a-1"].spent == pytest.approx(1.5)
    assert found["a-1"].window in ("2024-Q4..2025-Q3", "2025-Q1..2025-Q4")
    assert found["b-2"].spent == pytest.approx(0.2)


def test_a_release_over_the_rolling_year_is_refused_naming_the_quarters_and_what_they_spent() -> (
    None
):
    """Tests that a release that would take an NGO over its cap is refused with the one refusal
    format: the NGO, its four quarters, what each spent, the cap, what is left and what this
    release asks, and the commands that fix it; an NGO within its cap is not named."""
    over = YearBalance(
        "ngo-aroha", ("2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3"), (0.5, 0.5, 0.75, 0.0), 2.0
    )
    fine = YearBalance(
        "ngo-kauri", ("2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3"), (0.5, 0.5, 0.5, 0.0), 2.0
    )
    with pytest.raises(
        ReleaseError, match=r"refused and nothing was spent: 1 NGO\(s\) would"
    ) as caught:
        check_year("2025-Q3", [over, fine], {"ngo-aroha": 0.5, "ngo-kauri": 0.5})
    text = str(caught.value)
    assert (
        "ngo-aroha: quarters 2024-Q4..2025-Q3 cap rho 2, already spent 1.75 (2024-Q4 0.5, "
        "2025-Q1 0.5, 2025-Q2 0.75, 2025-Q3 0), left 0.25, this release asks 0.5"
    ) in text
    assert "ngo-kauri" not in text
    assert "outcomes budget set --ngo ID --annual-rho R" in text
    check_year("2025-Q3", [fine], {"ngo-kauri": 0.5})  # exactly the cap is allowed
