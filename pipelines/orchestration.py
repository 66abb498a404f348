"""Run the hub's Dagster jobs from the command line, against the hub's own Dagster home.

``outcomes intake`` and ``outcomes release`` execute the same jobs that the
sensor and the schedule launch, in-process, recording their runs in
``<home>/hub/dagster`` so that ``dagster dev`` shows them afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.home import Home, private_dir
from pipelines.hub.inbox import pending_ids

_DAGSTER_YAML = """\
# Written by Outcome Hub. The hub makes no network calls: telemetry is off.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # Runs that write the vault go one at a time; DuckDB has one writer per file.
    tag_concurrency_limits:
      - key: outcome-hub/vault
        limit: 1
"""


QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""In-process runs print nothing of Dagster's own: the command says what happened and what to do,
and the full event log, tracebacks included, is in the Dagster UI."""


def prepare_dagster_home(home: Home) -> Path:
    """Create ``<home>/hub/dagster`` with its dagster.yaml and point ``DAGSTER_HOME`` at it."""
    folder = private_dir(home.dagster_home)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(folder)
    # Jobs run in this process resolve the hub resource from the environment, as under dagster dev.
    os.environ["OUTCOMES_HOME"] = str(home.root)
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    return folder


def _instance(home: Home) -> Any:
    import dagster as dg

    return dg.DagsterInstance.from_config(str(prepare_dagster_home(home)))


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool
    keys: tuple[str, ...]


def run_intake(home: Home, progress: Callable[[int, int], None] | None = None) -> list[JobRun]:
    """Take every pending inbox submission through the intake job, one batch per run."""
    from pipelines.assets.intake import BATCHES, batch_key
    from pipelines.assets.resources import VAULT_TAGS
    from pipelines.assets.sensors import MAX_SUBMISSIONS_PER_RUN, intake_run_config
    from pipelines.definitions import defs

    waiting = pending_ids(home)
    if not waiting:
        return []
    instance = _instance(home)
    job = defs.resolve_job_def("intake")
    runs = []
    for start in range(0, len(waiting), MAX_SUBMISSIONS_PER_RUN):
        ids = waiting[start : start + MAX_SUBMISSIONS_PER_RUN]
        key = batch_key(ids)
        instance.add_dynamic_partitions(BATCHES, [key])
        result = job.execute_in_process(
            run_config={**QUIET, **intake_run_config(ids)},
            instance=instance,
            partition_key=key,
            tags=VAULT_TAGS,
            raise_on_error=False,
        )
        runs.append(JobRun(result.run_id, result.success, tuple(ids)))
        if progress:
            progress(min(start + len(ids), len(waiting)), len(waiting))
    return runs


def _failure_message(result: Any) -> str:
    """The message a failed step gave (a refused release says why), without a traceback."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            user = getattr(data, "user_failure_data", None)
            if user is not None and user.description:
                return str(user.description)
            error = getattr(data, "error", None)
            while error is not None and getattr(error, "cause", None) is not None:
                error = error.cause  # Dagster wraps the asset's own error; say the asset's
            if error is not None:
                return str(error.message).strip()
    return "the run failed; see the Dagster UI for details"


def run_release(
    home: Home,
    period: str,
    *,
    supersede: bool = False,
    requested_by: str = "outcomes release",
    build_site: bool = True,
) -> JobRun:
    """Release one period through the same job the schedule runs; raise ``RuntimeError`` with its reason.

    ``build_site=False`` stops after the published zone (the benchmark times the site apart)."""
    import dagster as dg

    from pipelines.assets.intake import PERIODS
    from pipelines.assets.resources import VAULT_TAGS
    from pipelines.definitions import defs

    instance = _instance(home)
    if period not in set(instance.get_dynamic_partitions(PERIODS)):
        instance.add_dynamic_partitions(PERIODS, [period])
    result = defs.resolve_job_def("release").execute_in_process(
        run_config={
            **QUIET,
            "ops": {
                "period_release": {"config": {"supersede": supersede, "requested_by": requested_by}}
            },
        },
        instance=instance,
        partition_key=period,
        tags=VAULT_TAGS,
        raise_on_error=False,
        asset_selection=None
        if build_site
        else [dg.AssetKey("period_release"), dg.AssetKey("published_release")],
    )
    if not result.success:
        raise RuntimeError(_failure_message(result))
    return JobRun(result.run_id, True, (period,))
