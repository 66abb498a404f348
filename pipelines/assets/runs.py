"""Running the hub's Dagster jobs from the command line, against the hub's own Dagster home.

``outcomes intake`` and ``outcomes release`` execute the same jobs that the
sensor and the schedule launch, in-process, recording their runs in
``<home>/hub/dagster`` so that the Dagster UI shows them afterwards. The hub
resource is configured per run (its home, its plan), so nothing here changes
the environment, and a test swaps the resource's configuration, not a module.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.assets.resources import HubResource
from pipelines.home import Home, private_dir
from pipelines.hub.inbox import pending_ids

_WRITTEN_BY = "# Written by Outcome Hub."
_DAGSTER_YAML = f"""\
{_WRITTEN_BY} The hub makes no network calls: telemetry is off, and the UI
# opens without Dagster's newsletter prompt (nux).
telemetry:
  enabled: false
nux:
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
    """Create ``<home>/hub/dagster`` with its dagster.yaml; return the folder. A dagster.yaml
    this hub wrote earlier is brought up to date; one someone else wrote is left alone."""
    folder = private_dir(home.dagster_home)
    config = folder / "dagster.yaml"
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if current is None or (current.startswith(_WRITTEN_BY) and current != _DAGSTER_YAML):
        tmp = config.with_name(f".dagster.yaml.{os.getpid()}")
        tmp.write_text(_DAGSTER_YAML, encoding="utf-8")
        tmp.replace(config)  # two processes preparing at once each write the whole file
    return folder


def _instance(home: Home) -> Any:
    """The hub's Dagster instance, its storages made. A new instance's SQLite schemas are
    created on first use, and two processes doing that at once both fail (one finds a table
    the other is making): a lock beside dagster.yaml lets one process in at a time until the
    storages exist. Runs themselves then go on side by side; the vault takes its own turns."""
    import dagster as dg

    folder = prepare_dagster_home(home)
    fd = os.open(folder / ".storages.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.from_config(str(folder))
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.get_daemon_heartbeats()
    finally:
        os.close(fd)  # closing the descriptor releases the lock
    return instance


def _interrupted(result: Any) -> bool:
    """Whether a run ended because Ctrl-C or SIGTERM interrupted it."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None and error.cls_name in (
            "DagsterExecutionInterruptedError",
            "KeyboardInterrupt",
        ):
            return True
    return False


def prepare_instance(home: Home) -> Path:
    """Create the hub's Dagster instance and its storages before its processes start: the
    daemon and the webserver each create the SQLite schemas of a new instance, and started
    together they race (the second fails on a table the first made)."""
    with _instance(home):  # made under its lock, storages included
        pass
    return home.dagster_home


def _job(name: str) -> Any:
    from pipelines.definitions import defs

    return defs.resolve_job_def(name)


def _resources(home: Home, hub: HubResource | None) -> dict[str, object]:
    """Run config that points the hub resource at ``home`` (or configures it as ``hub`` is)."""
    config = hub.model_dump() if hub is not None else {"home": str(home.root)}
    return {"resources": {"hub": {"config": {k: v for k, v in config.items() if v is not None}}}}


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseRun:
    """What a release job did to one period: its release and whether this run spent anything."""

    run_id: str
    period: str
    release_id: str
    status: str
    """``new`` or ``addendum`` (this run spent budget), or ``stored`` (it spent nothing)."""

    @property
    def spent(self) -> bool:
        return self.status != "stored"


def run_intake(
    home: Home,
    progress: Callable[[int, int], None] | None = None,
    *,
    hub: HubResource | None = None,
) -> list[JobRun]:
    """Take every pending inbox submission through the intake job, one batch per run."""
    from pipelines.assets.partitions import BATCHES, batches_of
    from pipelines.assets.resources import VAULT_TAGS

    waiting = pending_ids(home)
    if not waiting:
        return []
    instance = _instance(home)
    job = _job("intake")
    runs, done = [], 0
    for batch in batches_of(waiting):
        instance.add_dynamic_partitions(BATCHES, [batch.key])
        result = job.execute_in_process(
            run_config={**QUIET, **_resources(home, hub), **batch.run_config},
            instance=instance,
            partition_key=batch.key,
            tags=VAULT_TAGS,
            raise_on_error=False,
        )
        runs.append(JobRun(result.run_id, result.success, batch.submission_ids))
        if _interrupted(result):
            raise KeyboardInterrupt  # Dagster ended the run on Ctrl-C or SIGTERM: stop here
        done += len(batch.submission_ids)
        if progress:
            progress(done, len(waiting))
    return runs


def run_release(
    home: Home,
    period: str,
    *,
    supersede: bool = False,
    requested_by: str = "outcomes release",
    build_site: bool = True,
    hub: HubResource | None = None,
) -> ReleaseRun:
    """Release one period through the same job the schedule runs.

    A refused release raises the asset's own error (a
    :class:`~pipelines.hub.release.ReleaseError`), with its type and message.
    ``build_site=False`` stops after the published zone (the benchmark times the site apart).
    """
    import dagster as dg

    from pipelines.assets.partitions import register_periods
    from pipelines.assets.resources import VAULT_TAGS

    instance = _instance(home)
    register_periods(instance, [period])
    try:
        result = _job("release").execute_in_process(
            run_config={
                **QUIET,
                **_resources(home, hub),
                "ops": {
                    "period_release": {
                        "config": {"supersede": supersede, "requested_by": requested_by}
                    }
                },
            },
            instance=instance,
            partition_key=period,
            tags=VAULT_TAGS,
            raise_on_error=True,
            asset_selection=None
            if build_site
            else [dg.AssetKey("period_release"), dg.AssetKey("published_release")],
        )
    except dg.DagsterExecutionInterruptedError:
        # Ctrl-C or SIGTERM: a release not yet committed rolled back and spent nothing.
        raise KeyboardInterrupt from None
    (made,) = result.asset_materializations_for_node("period_release")
    said = {k: v.value for k, v in made.metadata.items()}
    return ReleaseRun(result.run_id, period, str(said["release"]), str(said["status"]))
