"""The statuses the vault records, as types: what a submission, a release or a proposal can be.

They are ``StrEnum`` so that a status is stored, compared and passed to SQL as
its plain text, while code can only name statuses that exist.
"""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    """Where a submission stands in the vault."""

    STAGED = "staged"
    """Passed re-validation; its rows are in the vault but in no release until promoted."""
    ACCEPTED = "accepted"
    """Current: the one submission of its NGO, period and dataset that releases read."""
    SUPERSEDED = "superseded"
    """Replaced by a later submission of the same NGO, period and dataset; kept as archive."""
    REFUSED = "refused"
    """Failed re-validation; quarantined with its report."""
    PURGED = "purged"
    """Its rows were deleted by retention; the record (hash, counts) stays."""


HELD = (SubmissionStatus.ACCEPTED, SubmissionStatus.SUPERSEDED)
"""Submissions whose rows the vault holds for releases and their archive."""


class ReleaseStatus(StrEnum):
    """Whether a stored release is the one a period's publication shows."""

    CURRENT = "current"
    SUPERSEDED = "superseded"


class ProposalStatus(StrEnum):
    """Where a proposed release stands: nothing is spent until a steward approves it."""

    WAITING = "waiting"
    """Made (by the schedule or ``outcomes release``); waits for a steward's approval."""
    APPROVED = "approved"
    """A steward approved it; the release it describes may now spend, once."""
    RELEASED = "released"
    """The release it describes was committed, with its spends, under this approval."""
    REPLACED = "replaced"
    """The vault changed (submissions, budgets, approvals, the plan) before it was released;
    a newer proposal replaces it, and it can no longer be approved."""


OPEN_PROPOSALS = (ProposalStatus.WAITING, ProposalStatus.APPROVED)
"""Proposals that still describe a release that may happen."""
