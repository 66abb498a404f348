"""Proposals and approvals: nothing spends budget without a steward's recorded approval.

The lifecycle of a release, in the vault (statuses are :class:`ProposalStatus`):

1. :func:`propose` (the release schedule when a period's window has closed,
   or ``outcomes release``) describes the release and stores it as a proposal,
   *waiting*, with its digest. It spends nothing. Proposing again while
   nothing changed returns the same proposal; once anything it would read or
   spend changes, the new proposal *replaces* the old one.
2. :func:`approve` records who approved it (``release_approvals`` and the
   audit log, with the digest), after describing the release again: if the
   digest differs (a submission arrived or was corrected, a budget or a
   governance decision changed), approval is refused and a new proposal is
   needed. The proposal is then *approved*.
3. The release core (:func:`~pipelines.hub.release.run.execute`) spends only
   under an approval whose digest is the release it is about to make, and
   marks the proposal *released* in the same transaction as the spends, so an
   approval pays for one release.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from pipelines.db import transaction
from pipelines.hub import audit, ledger
from pipelines.hub.release.budget import refusal
from pipelines.hub.release.draft import ReleaseDraft, ReleaseOutcome
from pipelines.hub.release.errors import ReleaseError
from pipelines.hub.release.proposal import Missing, Proposal, build
from pipelines.hub.release.run import describe
from pipelines.hub.rolling_year import year_balances
from pipelines.hub.vault import proposals, register, releases
from pipelines.hub.vault.checks import unresolved_references
from pipelines.hub.vault.proposals import StoredProposal
from pipelines.hub.vault.statuses import ProposalStatus
from pipelines.privacy.plan import ReleasePlan
from pipelines.standard.periods import Period


def missing(con: duckdb.DuckDBPyConnection, draft: ReleaseDraft) -> Missing:
    """What the release of ``draft`` will not see: NGOs registered (or in the previous quarter's
    release) without a submission now, NGOs without assessments, unresolved references."""
    submitted = {n for ngos in draft.contributing.values() for n in ngos}
    episodes = set(draft.contributing["episodes"])
    previous = releases.contributors(con, str(Period.parse(draft.period).previous()))
    scope = [(n, draft.period) for n in sorted(submitted)]
    return Missing(
        not_submitted=tuple(sorted(register.ids(con) - submitted)),
        not_again=tuple(sorted(previous - submitted)),
        without_assessments=tuple(sorted(episodes - set(draft.contributing["assessments"]))),
        unresolved=tuple(g.message() for g in unresolved_references(con, scope)),
    )


def propose(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    *,
    by: str,
    supersede: bool = False,
) -> Proposal | ReleaseOutcome:
    """The proposal of what releasing ``period`` would do now (the stored release when there is
    nothing to compute). Stored, waiting, unless an open proposal already says the same."""
    described = describe(con, plan, period, supersede=supersede)
    if isinstance(described, ReleaseOutcome):
        return described
    for stored in proposals.open_for(con, period):
        if stored.digest == described.digest:
            return Proposal.from_stored(stored)
    asked = described.charges
    now = datetime.now(UTC)
    proposal = build(
        described,
        proposal_id=proposals.next_id(con, period),
        balances=ledger.balances(con, plan, period, asked),
        years=year_balances(con, plan, period, asked),
        missing=missing(con, described),
        at=now,
        by=by,
    )
    with transaction(con):
        replaced = proposals.replace_open(con, period, now)
        proposals.insert(
            con,
            proposal_id=proposal.proposal_id,
            period=period,
            kind=proposal.kind,
            release_id=proposal.release_id,
            supersedes=proposal.supersedes,
            digest=proposal.digest,
            plan_digest=proposal.plan_digest,
            inputs=proposal.inputs,
            summary=proposal.summary(),
            at=now,
            by=by,
        )
        audit.record(
            con,
            [
                audit.Event(
                    by,
                    "release_proposed",
                    proposal.proposal_id,
                    {
                        "period": period,
                        "digest": proposal.digest,
                        "release": proposal.release_id,
                        "kind": proposal.kind,
                        "submissions": len(proposal.inputs),
                        "ngos_charged": len(asked),
                        "max_rho_charged": round(max(asked.values(), default=0.0), 12),
                        "replaces": replaced,
                    },
                )
            ],
        )
    return proposal


def _changes(stored: StoredProposal, now: ReleaseDraft | ReleaseOutcome) -> str:
    """What changed since ``stored`` was made, in words."""
    if isinstance(now, ReleaseOutcome):
        return f"{stored.period} has been released since, as {now.release_id}"
    added = sorted(set(now.inputs) - set(stored.inputs))
    gone = sorted(set(stored.inputs) - set(now.inputs))
    if added or gone:
        return (
            f"the submissions of {stored.period} changed since it was made ({len(added)} "
            f"accepted since, {len(gone)} no longer current)"
        )
    return (
        f"what a release of {stored.period} would spend changed since it was made (a budget, a "
        "governance decision or the release plan)"
    )


def approve(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, proposal_id: str, *, by: str
) -> Proposal:
    """Record ``by``'s approval of the proposal, after checking that it still describes the
    release that would be made now; refused, and the proposal replaced, when it does not."""
    if not by.strip():
        raise ReleaseError("--by must name the steward who approves the release")
    stored = proposals.get(con, proposal_id)
    if stored is None:
        raise ReleaseError(
            f"There is no proposal {proposal_id}; `outcomes release --period P` makes one."
        )
    subject = f"Approving proposal {proposal_id}"
    if stored.status in (ProposalStatus.RELEASED, ProposalStatus.REPLACED):
        done = "it was released" if stored.status == ProposalStatus.RELEASED else "it was replaced"
        raise refusal(
            subject,
            f"{done} already, so a new proposal is needed.",
            [],
            f"See the current one with `outcomes release --period {stored.period}`.",
        )
    supersede = stored.kind == "new" and stored.supersedes is not None
    now = describe(con, plan, stored.period, supersede=supersede)
    if isinstance(now, ReleaseOutcome) or now.digest != stored.digest:
        with transaction(con):
            proposals.set_status(con, proposal_id, ProposalStatus.REPLACED, datetime.now(UTC))
        raise refusal(
            subject,
            f"{_changes(stored, now)}, so it no longer describes the release that would be made: "
            "a new proposal is needed.",
            [],
            f"See the new proposal, and approve that one, with `outcomes release --period "
            f"{stored.period}{' --supersede' if supersede else ''}`.",
        )
    proposal = Proposal.from_stored(stored)
    if stored.status == ProposalStatus.APPROVED:
        return proposal
    at = datetime.now(UTC)
    with transaction(con):
        proposals.record_approval(con, proposal_id=proposal_id, digest=stored.digest, by=by, at=at)
        proposals.set_status(con, proposal_id, ProposalStatus.APPROVED, at)
        audit.record(
            con,
            [
                audit.Event(
                    by,
                    "release_approved",
                    proposal_id,
                    {
                        "period": stored.period,
                        "digest": stored.digest,
                        "release": stored.release_id,
                        "kind": stored.kind,
                        "submissions": len(stored.inputs),
                        "ngos_charged": len(proposal.spends),
                        "max_rho_charged": round(
                            max((s.asks for s in proposal.spends), default=0.0), 12
                        ),
                    },
                )
            ],
        )
    return Proposal.from_stored(proposals.get(con, proposal_id) or stored)


def waiting(con: duckdb.DuckDBPyConnection) -> list[Proposal]:
    """Every proposal waiting for a steward's approval."""
    return [Proposal.from_stored(p) for p in proposals.waiting(con)]


def propose_and_approve(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    *,
    by: str,
    supersede: bool = False,
) -> Proposal | ReleaseOutcome:
    """Propose and approve in one step, as `outcomes release --yes` does: for scripts whose
    steward approved the release beforehand (the demo, the benchmark). Still recorded: the
    proposal, and ``by``'s approval with its digest, are in the vault and the audit log."""
    made = propose(con, plan, period, by=by, supersede=supersede)
    return approve(con, plan, made.proposal_id, by=by) if isinstance(made, Proposal) else made
