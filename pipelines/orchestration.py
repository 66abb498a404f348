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


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""In-process runs log warnings only to the terminal; the full event log is in the Dagster UI."""


def prepare_dagster_home(home: Home) -> Path:
    """Create ``<home>/hub/dagster`` with its dagster.yaml and point ``DAGSTER_HOME`` at it."""
    folder = private_dir(home.dagster_home)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(folder)
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    return folder


def _instance(home: Home) -> Any:
    import dagster as dg

    return dg.DagsterInstance.from_config(str(prepare_dagster_home(home)))


def contiguous_blocks(keys: list[str], order: list[str], size: int) -> list[list[str]]:
    """Split ``keys`` into runs of neighbours in partition ``order``, at most ``size`` each."""
    position = {k: i for i, k in enumerate(order)}
    blocks: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        last = blocks[-1][-1] if blocks else None
        if last is not None and position[key] == position[last] + 1 and len(blocks[-1]) < size:
            blocks[-1].append(key)
        else:
            blocks.append([key])
    return blocks


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool
    keys: tuple[str, ...]


def run_intake(home: Home, progress: Callable[[int, int], None] | None = None) -> list[JobRun]:
    """Take every pending inbox submission through the intake job, in batched runs."""
    from pipelines.assets.intake import submissions
    from pipelines.assets.resources import HubResource
    from pipelines.assets.sensors import MAX_SUBMISSIONS_PER_RUN, range_tags
    from pipelines.definitions import defs

    pending = pending_ids(home)
    if not pending:
        return []
    instance = _instance(home)
    known = set(instance.get_dynamic_partitions(submissions.name))
    new = [sid for sid in pending if sid not in known]
    if new:
        instance.add_dynamic_partitions(submissions.name, new)
    order = list(instance.get_dynamic_partitions(submissions.name))
    job = defs.get_job_def("intake")
    runs = []
    done = 0
    for block in contiguous_blocks(pending, order, MAX_SUBMISSIONS_PER_RUN):
        result = job.execute_in_process(
            run_config=QUIET,
            instance=instance,
            tags=range_tags(block[0], block[-1]),
            resources={"hub": HubResource(home=str(home.root))},
            raise_on_error=False,
        )
        runs.append(JobRun(result.run_id, result.success, tuple(block)))
        done += len(block)
        if progress:
            progress(done, len(pending))
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
            if error is not None:
                return str(error.message).strip()
    return "the run failed; see the Dagster UI for details"


def run_release(
    home: Home, period: str, *, supersede: bool = False, requested_by: str = "outcomes release"
) -> JobRun:
    """Release one period through the same job the schedule runs; raise ``RuntimeError`` with its reason."""
    from pipelines.assets.intake import PERIODS
    from pipelines.assets.resources import VAULT_TAGS, HubResource
    from pipelines.definitions import defs

    instance = _instance(home)
    if period not in set(instance.get_dynamic_partitions(PERIODS)):
        instance.add_dynamic_partitions(PERIODS, [period])
    result = defs.get_job_def("release").execute_in_process(
        run_config={
            **QUIET,
            "ops": {
                "period_release": {"config": {"supersede": supersede, "requested_by": requested_by}}
            },
        },
        instance=instance,
        partition_key=period,
        tags=VAULT_TAGS,
        resources={"hub": HubResource(home=str(home.root))},
        raise_on_error=False,
    )
    if not result.success:
        raise RuntimeError(_failure_message(result))
    return JobRun(result.run_id, True, (period,))
