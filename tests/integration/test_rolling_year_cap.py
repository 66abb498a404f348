"""The rolling-year cap from the command line: set, shown beside every quarter's budget, and
enforced before any mechanism, whether a release was approved before the cap changed or not."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dp_helpers import PERIOD, ledger, seed_home, small_sector, snapshot

from pipelines.assets.runs import run_release
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.release import ReleaseError, propose_and_approve
from pipelines.hub.release import noise as release_noise
from pipelines.hub.vault import open_vault
from pipelines.privacy.plan import default_plan

Cli = Callable[..., Any]
EARLIER = "2025-Q2"


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _cli(run_cli: Cli, home: Home) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return run_cli(*args, "--home", home.root)

    return run


def _flat(output: str) -> str:
    return " ".join(output.split())


def _state(home: Home) -> tuple[Any, ...]:
    with open_vault(home).connect() as con:
        return (
            dict(snapshot(con)),
            ledger(con),
            con.execute("SELECT * FROM annual_caps ORDER BY ngo_id").fetchall(),
            len(audit.entries(con)),
        )


@pytest.fixture
def two_quarters(home: Home) -> Home:
    """The same two NGOs, with the same clients, in two consecutive quarters; none released."""
    seed_home(home, *small_sector(), EARLIER)
    seed_home(home, *small_sector(), PERIOD)
    return home


def test_a_release_that_would_break_the_rolling_year_cap_is_refused_before_any_mechanism(
    two_quarters: Home, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that, with ngo-aroha's cap at 0.9, releasing a second quarter (0.48 each) is refused
    before any noise is drawn, naming the NGO, its four quarters with what each spent, the cap
    and what the release asks, and spends nothing; and that a release approved while the cap
    allowed it is still refused, by the release job, once the cap is lowered."""
    home = two_quarters
    cli = _cli(run_cli, home)
    assert cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "0.9").exit_code == 0
    assert cli("release", "--period", EARLIER, "--yes").exit_code == 0
    before = _state(home)

    def no_mechanism(*_args: object, **_kw: object) -> None:
        raise AssertionError("a mechanism ran for a release over the rolling-year cap")

    monkeypatch.setattr(release_noise, "add_noise", no_mechanism)
    refused = cli("release", "--period", PERIOD, "--yes")
    assert refused.exit_code == 1
    text = _flat(refused.output)
    assert (
        "The release of 2025-Q3 is refused and nothing was spent: 1 NGO(s) would spend more than "
        "their rolling-year cap (the rho any four consecutive quarters may spend)."
    ) in text
    assert (
        "ngo-aroha: quarters 2024-Q4..2025-Q3 cap rho 0.9, already spent 0.4826 (2024-Q4 0, "
        "2025-Q1 0, 2025-Q2 0.4826, 2025-Q3 0), left 0.4174, this release asks 0.4826"
    ) in text
    assert "ngo-kauri" not in text
    assert "outcomes budget set --ngo ID --annual-rho R" in text
    assert _state(home) == before

    assert cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "1").exit_code == 0
    with open_vault(home).connect() as con:
        propose_and_approve(con, default_plan(), PERIOD, by="steward")
    assert cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "0.9").exit_code == 0
    before = _state(home)
    with pytest.raises(ReleaseError, match=r"ngo-aroha: quarters 2024-Q4\.\.2025-Q3 cap rho 0\.9"):
        run_release(home, PERIOD)
    assert _state(home)[:2] == before[:2]


def test_an_annual_cap_below_what_is_already_spent_is_refused_saying_what_is_spent(
    two_quarters: Home, run_cli: Cli
) -> None:
    """Tests that a cap for one NGO, or a default cap, below what any four consecutive quarters
    already spent is refused, naming the quarters and what each spent, and changes nothing (no
    cap, no audit entry); impossible values and a cap given with --period are refused too; a cap
    at or above the spend is set, audited, and shown by `budget show`."""
    home = two_quarters
    cli = _cli(run_cli, home)
    assert cli("release", "--period", EARLIER, "--yes").exit_code == 0
    assert cli("release", "--period", PERIOD, "--yes").exit_code == 0
    before = _state(home)

    own = cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "0.5")
    assert own.exit_code == 1
    assert (
        "ngo-aroha has already spent rho 0.9651 in the four quarters 2024-Q4..2025-Q3 (2024-Q4 0, "
        "2025-Q1 0, 2025-Q2 0.4826, 2025-Q3 0.4826); an annual cap of 0.5 would be below it."
    ) in _flat(own.output)
    default = cli("budget", "set", "--default", "--annual-rho", "0.5")
    assert default.exit_code == 1
    assert re.search(
        r"2 NGO\(s\) relying on the default cap have already spent more than 0\.5 in four "
        r"consecutive quarters \(e\.g\. ngo-\w+: rho 0\.9651 in 2024-Q4\.\.2025-Q3",
        _flat(default.output),
    )
    for value, message in (
        ("-1", "an annual cap must be positive and finite, got -1.0"),
        ("nan", "an annual cap must be a number, got nan"),
        ("41", "an annual cap of 41 is above four quarters at the plan's limit (40)"),
    ):
        bad = cli("budget", "set", "--default", "--annual-rho", value)
        assert bad.exit_code == 1
        assert message in _flat(bad.output)
    both = cli("budget", "set", "--default", "--annual-rho", "3", "--period", PERIOD)
    assert both.exit_code == 2
    assert "give it without --period" in _flat(both.output)
    assert _state(home) == before

    assert cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "0.9651").exit_code == 1
    assert cli("budget", "set", "--ngo", "ngo-aroha", "--annual-rho", "1.5").exit_code == 0
    with open_vault(home).connect() as con:
        entry = audit.entries(con, action="annual_cap_set")[-1]
    assert (entry["subject"], entry["detail"]["rho"]) == ("ngo-aroha", 1.5)
    shown = cli("budget", "show", "--period", PERIOD)
    rows = {
        cells[1]: cells
        for line in shown.output.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) > 6
    }
    assert rows["ngo-aroha"][6:] == ["2024-Q4..2025-Q3", "1.5", "0.9651", "0.5349", "10.61"]
    assert rows["ngo-kauri"][6:] == ["2024-Q4..2025-Q3", "2", "0.9651", "1.035", "12.57"]


def test_budget_plan_states_the_year_a_quarterly_budget_adds_up_to(
    home: Home, run_cli: Cli
) -> None:
    """Tests that `outcomes budget plan` says, beside the quarter, what four quarters at that
    budget spend as rho and epsilon, the plan's rolling-year cap, and whether they fit in it."""
    seed_home(home, *small_sector())
    cli = _cli(run_cli, home)
    fits = _flat(cli("budget", "plan", "--rho", "0.5").output)
    assert (
        "Over a year: any four consecutive quarters may spend at most rho 2 per NGO (epsilon "
        "12.57 at delta 0.0000001)"
    ) in fits
    assert "At rho 0.5 a quarter, four quarters spend rho 2 (epsilon 12.57); they fit" in fits
    over = _flat(cli("budget", "plan", "--rho", "0.8").output)
    assert "only 2 such quarter(s) fit within the cap, so a later one would be refused" in over
    reverse = _flat(cli("budget", "plan", "--target", "clients=20").output)
    assert "any four consecutive quarters may spend at most rho 2 per NGO" in reverse
