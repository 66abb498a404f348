"""Releases the steward approves: nothing spends budget without a recorded approval of exactly
the release that would be made, and a correction to a released quarter says what it would cost.

Each test seeds an encrypted vault in its own home (accepted submissions written straight into
the vault) and drives ``outcomes release`` in-process, answering its question where it asks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dp_helpers import PERIOD, ledger, load_rows, register_ngos, seed_home, small_sector, snapshot

from pipelines.assets.runs import run_release
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.release import ReleaseError
from pipelines.hub.vault import open_vault

Cli = Callable[..., Any]


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _answering(home: Home, answer: str, *args: str) -> Any:
    """``outcomes ARGS --home HOME``, typing ``answer`` at its question."""
    from pipelines.cli import main

    return CliRunner().invoke(
        main, [*args, "--home", str(home.root)], input=answer, terminal_width=200
    )


def _state(home: Home) -> tuple[dict[str, int], dict[tuple[str, str], float]]:
    with open_vault(home).connect() as con:
        return dict(snapshot(con)), ledger(con)


def _proposals(home: Home) -> dict[str, str]:
    with open_vault(home).connect() as con:
        return dict(con.execute("SELECT proposal_id, status FROM release_proposals").fetchall())


def test_nothing_spends_without_a_recorded_approval(home: Home, run_cli: Cli) -> None:
    """Tests that `outcomes release` shows the proposal (submissions, spend per NGO in the quarter
    and the rolling year, accuracy) and, not approved, spends nothing and leaves it waiting; that
    the release job itself refuses to spend without an approval; and that once a steward
    approves, the release spends, the audit log records who approved which digest, and the
    release names the approval it spent under."""
    seed_home(home, *small_sector())
    empty = _state(home)

    declined = _answering(home, "n\n", "release", "--period", PERIOD, "--by", "Mere")
    assert declined.exit_code == 0, declined.output
    text = " ".join(declined.output.split())
    assert "Proposed release 2025-Q3-p1 of 2025-Q3" in text
    assert "Uses 4 current submission(s) from 2 NGO(s)." in text
    assert "2024-Q4..2025-Q3" in text  # the rolling year beside the quarter
    assert "Expected accuracy" in text
    assert "Not approved: 2025-Q3-p1 waits for a steward; nothing was spent." in text
    assert _state(home) == empty
    assert _proposals(home) == {"2025-Q3-p1": "waiting"}

    with pytest.raises(
        ReleaseError, match=r"(?s)no steward has approved it.*outcomes release --period 2025-Q3"
    ):
        run_release(home, PERIOD, requested_by="release schedule")
    assert _state(home) == empty

    approved = _answering(home, "y\n", "release", "--period", PERIOD, "--by", "Mere")
    assert approved.exit_code == 0, approved.output
    assert "Approved by Mere: 2025-Q3-p1" in approved.output
    assert _proposals(home) == {"2025-Q3-p1": "released"}
    with open_vault(home).connect() as con:
        assert len(ledger(con)) == 2
        digest = con.execute("SELECT digest FROM release_proposals").fetchone()[0]  # type: ignore[index]
        approval = audit.entries(con, action="release_approved")
        released = audit.entries(con, action="release")
    assert [(e["actor"], e["subject"], e["detail"]["digest"]) for e in approval] == [
        ("Mere", "2025-Q3-p1", digest)
    ]
    assert released[0]["detail"]["proposal"] == "2025-Q3-p1"
    assert released[0]["detail"]["proposal_digest"] == digest
    assert released[0]["detail"]["approved_by"] == "Mere"


def test_approving_a_proposal_whose_submissions_changed_is_refused(
    home: Home, run_cli: Cli
) -> None:
    """Tests that a proposal made before a late NGO's submissions were accepted cannot be
    approved: refused, saying the submissions changed and a new proposal is needed; nothing is
    spent and the old proposal is replaced. The new proposal includes the late NGO."""
    seed_home(home, *small_sector())
    assert _answering(home, "n\n", "release", "--period", PERIOD).exit_code == 0
    register_ngos(home, ["ngo-tui"])  # a late NGO, registered, whose extracts are accepted
    with open_vault(home).connect() as con:
        load_rows(con, *small_sector(seed=12, ngos=("ngo-tui",)), period=PERIOD)
    before = _state(home)

    stale = run_cli(
        "release", "--period", PERIOD, "--proposal", "2025-Q3-p1", "--yes", "--home", home.root
    )
    assert stale.exit_code == 1
    assert (
        "Approving proposal 2025-Q3-p1 is refused and nothing was spent: the submissions of "
        "2025-Q3 changed since it was made (2 accepted since, 0 no longer current), so it no "
        "longer describes the release that would be made: a new proposal is needed."
    ) in " ".join(stale.output.split())
    assert _state(home) == before
    assert _proposals(home) == {"2025-Q3-p1": "replaced"}
    with open_vault(home).connect() as con:
        assert not audit.entries(con, action="release_approved")

    fresh = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert fresh.exit_code == 0, fresh.output
    assert _proposals(home) == {"2025-Q3-p1": "replaced", "2025-Q3-p2": "released"}
    assert {n for _p, n in _state(home)[1]} == {"ngo-aroha", "ngo-kauri", "ngo-tui"}


def test_a_correction_to_a_released_quarter_without_supersede_says_what_it_would_spend(
    home: Home, run_cli: Cli
) -> None:
    """Tests that releasing a released quarter again after an NGO corrected its extract, without
    --supersede, is refused and spends nothing, saying that the correction is not in the
    release, what superseding would spend per NGO in the quarter and in its rolling year, and
    the commands that raise the budget and supersede; the budget it names is enough."""
    episodes, assessments = small_sector()
    seed_home(home, episodes, assessments)
    assert run_cli("release", "--period", PERIOD, "--yes", "--home", home.root).exit_code == 0
    with open_vault(home).connect() as con:  # ngo-aroha corrects its episodes file
        con.execute(
            "UPDATE submissions SET status = 'superseded' WHERE ngo_id = 'ngo-aroha' "
            "AND dataset = 'episodes'"
        )
        ids = load_rows(con, [e for e in episodes if e["ngo_id"] == "ngo-aroha"])
        con.execute(
            "DELETE FROM submissions WHERE submission_id = ?", [ids["ngo-aroha/assessments"]]
        )
    before = _state(home)
    proposals = _proposals(home)

    refused = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert (
        "Releasing 2025-Q3 with the 1 submission(s) accepted since 2025-Q3-r1 is refused and "
        "nothing was spent: 2025-Q3 is released as 2025-Q3-r1, which does not include them."
    ) in text
    assert "spends budget again: up to rho 0.4826 per NGO (epsilon 5.56 at delta 1e-07)" in text
    assert (
        "ngo-aroha: would spend rho 0.4826 more in 2025-Q3 (budget 0.5, already spent 0.4826, "
        "left 0.01744); its four quarters 2024-Q4..2025-Q3 would reach 0.9651 of its cap 2"
    ) in text
    # The budget it suggests is enough for a supersede no noisier than the release it replaces
    # (what is spent plus what that release was calibrated on, 0.4828 + 0.5), not merely spent
    # plus what the supersede would charge (0.966, which the supersede then refused).
    assert "outcomes budget set --default --period 2025-Q3 --rho 0.983" in text
    assert "outcomes release --period 2025-Q3 --supersede" in text
    assert _state(home) == before
    assert _proposals(home) == proposals
    raised = run_cli(
        "budget", "set", "--default", "--period", PERIOD, "--rho", "0.983", "--home", home.root
    )
    assert raised.exit_code == 0, raised.output
    again = run_cli("release", "--period", PERIOD, "--supersede", "--yes", "--home", home.root)
    assert again.exit_code == 0, again.output
