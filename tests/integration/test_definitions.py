"""The Dagster code location loads: the intake job, the inbox sensor and the intake checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_definitions_hold_the_intake_job_sensor_and_checks() -> None:
    """Tests that pipelines.definitions.defs loads with the intake job (both intake assets),
    the inbox sensor targeting it, and the blocking staged-rows check plus the row-count check."""
    from pipelines.definitions import defs

    job = defs.resolve_job_def("intake")
    graph = defs.resolve_asset_graph()
    intake_assets = {"validated_submissions", "accepted_submissions"}
    assert intake_assets <= {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= intake_assets
    sensor = defs.resolve_sensor_def("inbox_sensor")
    assert sensor.job_name == "intake"
    checks = {k.to_user_string(): k for k in graph.asset_check_keys}
    staged = "validated_submissions:staged_rows_meet_contract"
    assert {staged, "accepted_submissions:vault_rows_match_manifests"} <= set(checks)
    assert graph.get_check_spec(checks[staged]).blocking


@pytest.mark.slow
def test_dagster_validates_the_workspace(tmp_path: Path) -> None:
    """Tests that `dagster definitions validate -w workspace.yaml` (the venv's dagster, its own
    DAGSTER_HOME, telemetry off) exits 0."""
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent))
    assert dagster, "the venv's dagster executable is missing"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "OUTCOMES_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
