"""Releases: proposed, approved by a steward, computed once, paid for once, never lost to a crash.

A release is described, then executed (see ``run``): the parts are planned
without the vault (``parts``), the budget is allotted and checked against each
NGO's quarter and rolling year with one refusal format (``budget``), the noise
is drawn after a dry run (``noise``), and the release with its spends is
committed in one transaction (``store``). Nothing is executed without a
steward's approval of its description: ``proposal`` is that description with
what it would spend, ``approval`` proposes and approves, ``correction`` says
what including a late submission would cost. ``schedule`` says which periods
are due; ``draft`` holds the frozen types.
"""

from pipelines.hub.release.approval import approve, propose, propose_and_approve, waiting
from pipelines.hub.release.correction import correction_refusal
from pipelines.hub.release.draft import ReleaseDraft, ReleaseKind, ReleaseOutcome
from pipelines.hub.release.errors import NothingToRelease, ReleaseError
from pipelines.hub.release.noise import compute, dry_run
from pipelines.hub.release.parts import Part, charges, ngos_by_measure, plan_parts
from pipelines.hub.release.proposal import Proposal
from pipelines.hub.release.run import describe, execute, release_period
from pipelines.hub.release.schedule import late_submissions, releasable_periods
from pipelines.hub.release.store import contributing_ngos

__all__ = [
    "NothingToRelease",
    "Part",
    "Proposal",
    "ReleaseDraft",
    "ReleaseError",
    "ReleaseKind",
    "ReleaseOutcome",
    "approve",
    "charges",
    "compute",
    "contributing_ngos",
    "correction_refusal",
    "describe",
    "dry_run",
    "execute",
    "late_submissions",
    "ngos_by_measure",
    "plan_parts",
    "propose",
    "propose_and_approve",
    "releasable_periods",
    "release_period",
    "waiting",
]
