"""The release schedule releases each period once its window closes, and again for approved cells."""

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
    return [r.partition_key for r in result]


def test_the_schedule_releases_closed_periods_once_and_again_for_approved_cells(
    home: Home, run_cli: Callable[..., Any]
) -> None:
    """Tests that the schedule asks for a release of a period whose window has closed but not of
    one still open; that it stops asking once the period is released; and that it asks again
    when the governance group approves cells the release was waiting for."""
    episodes, assessments = small_sector()
    seed_home(home, episodes, assessments, PERIOD)
    seed_home(home, *small_sector(seed=12), OPEN_PERIOD)

    assert _due(home) == [PERIOD]

    released = run_cli("release", "--period", PERIOD, "--home", home.root)
    assert released.exit_code == 0, released.output
    assert _due(home) == []

    approved = run_cli(
        "approve", "--dimension", "ethnicity", "--value", "maori", "--period", PERIOD,
        "--by", "Governance group", "--note", "Approved at the hui of 20 November",
        "--home", home.root,
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    assert _due(home) == [PERIOD]
