"""The hub's partitions: inbox batches for intake, periods for releases; and how they are added.

Both are dynamic: a batch partition is one set of submissions taken from the
inbox together, named for when it was taken, how many it holds and a digest
of which; a period partition appears once a period has accepted submissions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

BATCHES = "intake_batches"
PERIODS = "periods"
batches = dg.DynamicPartitionsDefinition(name=BATCHES)
periods = dg.DynamicPartitionsDefinition(name=PERIODS)

MAX_SUBMISSIONS_PER_RUN = 5000
"""Submissions per intake run: Dagster's bookkeeping stays per run, not per submission."""


@dataclass(frozen=True)
class Batch:
    """Submissions taken in by one intake run, and the partition key that names them."""

    key: str
    submission_ids: tuple[str, ...]

    @property
    def run_config(self) -> dict[str, object]:
        config = {"config": {"submissions": list(self.submission_ids)}}
        return {"ops": {"validated_submissions": config, "accepted_submissions": config}}


def batch_key(submission_ids: Sequence[str], when: datetime | None = None) -> str:
    """A batch's partition key: when it was taken, how many submissions, and a digest of which."""
    when = when or datetime.now(UTC)
    digest = hashlib.sha256("\n".join(sorted(submission_ids)).encode()).hexdigest()[:10]
    return f"{when:%Y%m%dT%H%M%SZ}-{len(submission_ids)}-{digest}"


def batches_of(submission_ids: Sequence[str]) -> list[Batch]:
    """Submissions split into runs of at most :data:`MAX_SUBMISSIONS_PER_RUN`, in order."""
    return [
        Batch(batch_key(chunk), tuple(chunk))
        for chunk in (
            submission_ids[i : i + MAX_SUBMISSIONS_PER_RUN]
            for i in range(0, len(submission_ids), MAX_SUBMISSIONS_PER_RUN)
        )
    ]


def register_periods(instance: dg.DagsterInstance, found: Iterable[str]) -> list[str]:
    """Add the periods that are not yet partitions of the release assets; return them."""
    known = set(instance.get_dynamic_partitions(PERIODS))
    missing = sorted({p for p in found if p not in known})
    if missing:
        instance.add_dynamic_partitions(PERIODS, missing)
    return missing
