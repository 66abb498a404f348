"""The inbox sensor batches new submissions into one intake run and remembers what it took."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from ngo_helpers import hand_in

from pipelines.assets.partitions import BATCHES
from pipelines.assets.resources import HubResource
from pipelines.assets.sensors import inbox_sensor
from pipelines.home import Home
from pipelines.hub.inbox import pending_ids
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.submit import submit
from pipelines.standard.periods import Period


def _submit(home: Home, path: Path, ngo: str, dataset: str = "episodes") -> str:
    """Submit on the NGO side (a folder of the NGO's own) and deliver through the receiver."""
    ngo_side = NgoHome(home.root.parent / "ngo-side")
    outcome = submit(
        path, home=ngo_side, ngo_id=ngo, period=Period.parse("2025-Q3"), dataset=dataset
    )
    assert outcome.status == "accepted", outcome.message
    assert hand_in(home, ngo_side, ngo) == [outcome.submission_id]
    assert outcome.submission_id
    return outcome.submission_id


def _tick(home: Home, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"hub": HubResource(home=str(home.root))}
        ) as context,
    ):
        return inbox_sensor(context)


def test_new_submissions_become_one_batch_run_and_the_cursor_moves_past_them(
    home: Home, episodes_csv: Path
) -> None:
    """Tests that the sensor asks for one intake run whose partition is a new batch and whose
    config lists exactly the new submissions, that the next tick with nothing new skips, and that
    a later arrival becomes a batch of its own."""
    first = [_submit(home, episodes_csv, "ngo-0001"), _submit(home, episodes_csv, "ngo-0002")]

    result = _tick(home, None)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    ids = request.run_config["ops"]["validated_submissions"]["config"]["submissions"]
    assert set(ids) == set(first)
    assert ids == pending_ids(home)  # arrival order
    assert request.run_config["ops"]["accepted_submissions"]["config"]["submissions"] == ids
    (added,) = result.dynamic_partitions_requests or []
    assert added.partitions_def_name == BATCHES
    assert list(added.partition_keys) == [request.partition_key]
    assert request.partition_key.split("-")[1] == "2"  # <taken at>-<how many>-<digest>

    again = _tick(home, result.cursor)
    assert isinstance(again, dg.SkipReason)

    later = _submit(home, episodes_csv, "ngo-0003")
    third = _tick(home, result.cursor)
    assert isinstance(third, dg.SensorResult)
    (request3,) = third.run_requests or []
    assert request3.run_config["ops"]["validated_submissions"]["config"]["submissions"] == [later]
