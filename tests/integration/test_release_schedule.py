"""The release schedule proposes each period's release once its window closes (and again for
approved cells); a proposal spends nothing and the Dagster UI shows it waiting for a steward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dp_helpers import PERIOD, seed_home, small_sector

from pipelines.assets.releases import release_schedule
from pipelines.assets.resources import HubResource
from pipelines.home import Home

OPEN_PERIOD = "2026-Q4"  # its submission window is still open on the day below
TODAY = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _due(home: Home) -> list[str]:
    # Both as context managers: a schedule context left open keeps its instance current for
    # Dagster after the instance is gone, and later definitions fail to load.
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=TODAY,
            resources={"hub": HubResource(home=str(home.root))},
        ) as context,
    ):
        result = release_schedule(context)
    if isinstance(result, dg.SkipReason):
        return []
    assert release_schedule.job_name == "propose"
    return [r.partition_key for r in result]


def test_the_schedule_proposes_closed_periods_once_and_again_for_approved_cells(
    home: Home, run_cli: Callable[..., Any]
) -> None:
    """Tests that the schedule asks for a proposal of a period whose window has closed but not
    of one still open, on the proposing job (never the spending one); that it stops asking once
    the period is released; that it asks again when the governance group approves cells the
    release was waiting for, and when an NGO's submissions arrive after the release (its
    addendum), and not once that is released."""
    episodes, assessments = small_sector()
    seed_home(home, episodes, assessments, PERIOD)
    seed_home(home, *small_sector(seed=12), OPEN_PERIOD)

    assert _due(home) == [PERIOD]

    released = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert released.exit_code == 0, released.output
    assert _due(home) == []

    approved = run_cli(
        "approve", "--dimension", "ethnicity", "--value", "maori", "--period", PERIOD,
        "--by", "Governance group", "--note", "Approved at the hui of 20 November",
        "--home", home.root,
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    assert _due(home) == [PERIOD]
    again = run_cli("release", "--period", PERIOD, "--yes", "--home", home.root)
    assert again.exit_code == 0, again.output
    assert _due(home) == []

    seed_home(home, *small_sector(seed=13, ngos=("ngo-tui",)), PERIOD)  # late, after the release
    assert _due(home) == [PERIOD]
    late = run_cli("release", "--yes", "--home", home.root)
    assert late.exit_code == 0, late.output
    assert "an addendum" in " ".join(late.output.split())
    assert _due(home) == []


def test_a_proposal_run_spends_nothing_and_the_ui_shows_it_waiting(home: Home) -> None:
    """Tests that the job the schedule launches materialises the period's release_proposal,
    whose metadata says it waits for approval and with which command, that the
    release_waits_for_a_steward check warns (severity WARN) naming the proposal, and that
    nothing is spent; a second run with nothing changed keeps the same proposal."""
    from pipelines.assets.partitions import register_periods
    from pipelines.assets.runs import QUIET, _resources
    from pipelines.definitions import defs
    from pipelines.hub.vault import open_vault

    seed_home(home, *small_sector())
    job = defs.resolve_job_def("propose")
    with dg.instance_for_test() as instance:
        register_periods(instance, [PERIOD])
        for _ in range(2):
            result = job.execute_in_process(
                run_config={**QUIET, **_resources(home, None)},
                instance=instance,
                partition_key=PERIOD,
            )
            assert result.success
        materialised = result.asset_materializations_for_node("release_proposal")[0]
        checks = result.get_asset_check_evaluations()
    metadata = {k: v.value for k, v in materialised.metadata.items()}
    assert metadata["proposal"] == "2025-Q3-p1"
    assert metadata["status"] == "waiting: approve with outcomes release --period 2025-Q3"
    assert metadata["NGOs charged"] == 2
    [check] = checks
    assert check.check_name == "release_waits_for_a_steward"
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == "2025-Q3-p1 (2025-Q3) waits: outcomes release --period 2025-Q3"
    with open_vault(home).connect() as con:
        assert con.execute("SELECT count(*) FROM spends").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM release_proposals").fetchone() == (1,)
