"""A release described before it is made, and what making it did.

:func:`~pipelines.hub.release.run.describe` reads the vault and plans a
:class:`ReleaseDraft` without drawing any noise; executing it checks the
budget, draws the noise and commits. Both types are frozen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pipelines.hub.release.keys import KeySets, as_record
from pipelines.hub.release.parts import Part, charges
from pipelines.standard.names import SubmissionName

ReleaseKind = Literal["new", "addendum", "stored"]
"""``new``: a period's first release or a supersede; ``addendum``: cells added to the current
release (governed cells approved since it was made, and a late NGO's own figures); ``stored``:
nothing to compute, the stored release."""


@dataclass(frozen=True)
class ReleaseDraft:
    """Everything a release will compute and spend, before any noise is drawn."""

    release_id: str
    period: str
    kind: Literal["new", "addendum"]
    version: int
    supersedes: str | None
    contributing: Mapping[str, list[str]]
    allotted: Mapping[str, float]
    """What each NGO's parts are calibrated on (its budget less other releases' spends)."""
    approved: frozenset[tuple[str, str]]
    parts: tuple[Part, ...]
    pending: tuple[str, ...]
    """Governed parts waiting for the governance group's approval."""
    plan_digest: str
    inputs: tuple[str, ...]
    """The current submissions of the period (sorted ids): what the release reads."""
    key_sets: KeySets = field(default_factory=dict)
    """Each NGO's registered programmes and regions: the per-NGO cells it computes."""

    @property
    def charges(self) -> dict[str, float]:
        return charges(self.parts)

    @property
    def late_inputs(self) -> tuple[str, ...]:
        """The submissions an addendum adds to its release: those of each (NGO, dataset) whose
        own figures it computes for the first time (they arrived after the release)."""
        late = {
            (p.ngo_id, p.measure.statistic.dataset)
            for p in self.parts
            if p.ngo_id is not None and not p.component.governed
        }
        return tuple(
            s for s in self.inputs if (SubmissionName.parse(s).ngo_id, _dataset(s)) in late
        )

    @property
    def digest(self) -> str:
        """What a steward approves: the release, the plan, the submissions it reads and every
        part with its payers and its rho. Anything that changes what would be read or spent
        (a new or corrected submission, a budget, a governance decision, the plan) changes it."""
        body: dict[str, object] = {
            "release": [self.release_id, self.period, self.kind, self.supersedes],
            "plan": self.plan_digest,
            "inputs": list(self.inputs),
            "parts": sorted(
                [p.part_id, list(p.charged), repr(p.calibration.rho)] for p in self.parts
            ),
        }
        if self.key_sets:
            body["key_sets"] = as_record(self.key_sets)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ReleaseOutcome:
    """What releasing a period did."""

    release_id: str
    period: str
    status: ReleaseKind
    charged: Mapping[str, float] = field(default_factory=dict)
    parts: int = 0
    pending_approval: tuple[str, ...] = ()

    @property
    def spent_now(self) -> bool:
        return bool(self.charged)


def _dataset(submission_id: str) -> str:
    return SubmissionName.parse(submission_id).dataset
