"""Releases: computed once, paid for once, never lost to a crash.

A release is described, then executed (see ``run``): the parts are planned
without the vault (``parts``), the budget is allotted and checked with one
refusal format (``budget``), the noise is drawn after a dry run (``noise``),
and the release with its spends is committed in one transaction (``store``).
``schedule`` says which periods are due; ``draft`` holds the frozen types.
"""

from pipelines.hub.release.draft import ReleaseDraft, ReleaseKind, ReleaseOutcome
from pipelines.hub.release.errors import NothingToRelease, ReleaseError
from pipelines.hub.release.noise import compute, dry_run
from pipelines.hub.release.parts import Part, charges, ngos_by_measure, plan_parts
from pipelines.hub.release.run import describe, execute, release_period
from pipelines.hub.release.schedule import late_submissions, releasable_periods
from pipelines.hub.release.store import contributing_ngos

__all__ = [
    "NothingToRelease",
    "Part",
    "ReleaseDraft",
    "ReleaseError",
    "ReleaseKind",
    "ReleaseOutcome",
    "charges",
    "compute",
    "contributing_ngos",
    "describe",
    "dry_run",
    "execute",
    "late_submissions",
    "ngos_by_measure",
    "plan_parts",
    "releasable_periods",
    "release_period",
]
