"""Releasing a period: describe the release, check its budget, draw its noise, commit.

The order of work makes the guarantees:

1. :func:`describe` plans every part from the vault's state without drawing
   noise, and refuses a release an NGO cannot pay for, in its quarter or in
   its rolling year;
2. :func:`execute` spends only under a steward's recorded approval of exactly
   this release (its digest; see :mod:`pipelines.hub.release.approval`);
3. the budget checks run again before any mechanism: a release that would
   exceed any NGO's quarter budget or rolling-year cap is refused whole,
   saying what is left and what was asked;
4. the whole plan is dry-run on empty tables of the vault's schema;
5. exact aggregates are computed, noise is drawn (OpenDP), and everything,
   the approval's use included, is committed in one transaction.

Running again returns the stored release and spends nothing. A changed plan
needs ``supersede``, which spends again, and the ledger shows both.
"""

from __future__ import annotations

import duckdb

from pipelines.hub import ledger
from pipelines.hub.crash import crashpoint, pausepoint
from pipelines.hub.release.budget import (
    allotment,
    check_budget,
    check_registered,
    check_supersede,
    check_year,
    refusal,
)
from pipelines.hub.release.draft import ReleaseDraft, ReleaseOutcome
from pipelines.hub.release.errors import NothingToRelease, ReleaseError
from pipelines.hub.release.keys import register_key_sets
from pipelines.hub.release.noise import compute, dry_run
from pipelines.hub.release.parts import Part, plan_parts
from pipelines.hub.release.store import commit, contributing_ngos
from pipelines.hub.rolling_year import year_balances
from pipelines.hub.vault import budgets, proposals, register, releases, submissions
from pipelines.hub.vault.proposals import StoredApproval
from pipelines.hub.vault.statuses import ProposalStatus
from pipelines.privacy.plan import ReleasePlan


def describe(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    *,
    supersede: bool = False,
) -> ReleaseDraft | ReleaseOutcome:
    """The release ``period`` needs now, or the stored release when there is nothing to compute.

    A contributor the NGO register does not know refuses the release.
    """
    contributing = contributing_ngos(con, period)
    if not contributing["episodes"]:
        raise NothingToRelease(f"Nothing to release for {period}: no accepted submissions.")
    approved = budgets.approved(con, period)
    ngos = sorted(set(contributing["episodes"]) | set(contributing["assessments"]))
    check_registered(period, ngos, register.ids(con))
    key_sets = register_key_sets(n for n in register.listing(con) if n.ngo_id in set(ngos))
    budget = ledger.budgets(con, plan, period, ngos)
    current = releases.current(con, period)
    inputs = submissions.current_ids(con, period)
    if current and not supersede:
        if current.plan_digest != plan.digest:
            raise ReleaseError(
                f"{period} was released as {current.release_id} with another version of the "
                "release plan. To release it again with the current plan, which spends budget "
                f"again, run: outcomes release --period {period} --supersede"
            )
        base = allotment(
            period,
            budget,
            releases.spent(con, period, except_release=current.release_id),
            plan.min_rho,
        )
        done = releases.part_ids(con, current.release_id)
        parts, pending = plan_parts(plan, contributing, base, approved, done)
        added = _addendum_parts(parts)
        if not added:
            return ReleaseOutcome(
                current.release_id, period, "stored", pending_approval=tuple(pending)
            )
        return _affordable(
            con,
            plan,
            ReleaseDraft(
                current.release_id,
                period,
                "addendum",
                current.version,
                None,
                contributing,
                base,
                approved,
                added,
                tuple(pending),
                plan.digest,
                inputs,
                key_sets,
            ),
        )
    version = releases.next_version(con, period)
    previous = current.release_id if current else None
    base = allotment(period, budget, releases.spent(con, period), plan.min_rho)
    if previous:
        check_supersede(period, previous, budget, base, releases.allotments(con, previous))
    parts, pending = plan_parts(plan, contributing, base, approved)
    return _affordable(
        con,
        plan,
        ReleaseDraft(
            f"{period}-r{version}",
            period,
            "new",
            version,
            previous,
            contributing,
            base,
            approved,
            tuple(parts),
            tuple(pending),
            plan.digest,
            inputs,
            key_sets,
        ),
    )


def _addendum_parts(parts: list[Part]) -> tuple[Part, ...]:
    """What an addendum to a period's current release computes: governed parts approved since
    it was made, and the per-NGO parts of NGOs whose submissions arrived after it (a late NGO's
    own figures; its data joins the pooled cells only through a supersede). Every other part
    left undone is the release's own and needs nothing."""
    return tuple(p for p in parts if p.component.governed or p.ngo_id is not None)


def _affordable(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, draft: ReleaseDraft
) -> ReleaseDraft:
    """The draft, once every NGO it charges can pay for it in its quarter and its rolling year;
    refused (before any mechanism) otherwise."""
    asked = draft.charges
    check_budget(draft.period, ledger.balances(con, plan, draft.period, asked), asked)
    check_year(draft.period, year_balances(con, plan, draft.period, asked), asked)
    return draft


def approval_of(con: duckdb.DuckDBPyConnection, draft: ReleaseDraft) -> StoredApproval:
    """The steward's approval of exactly this release (by its digest); refused without one."""
    found = proposals.approval_for(con, draft.period, draft.digest)
    if found is not None:
        return found
    approved = [
        p for p in proposals.open_for(con, draft.period) if p.status == ProposalStatus.APPROVED
    ]
    why = (
        f"proposal {approved[0].proposal_id} was approved, but what the release would read or "
        "spend has changed since (a submission, a budget, a governance decision or the plan), "
        "so a new proposal is needed."
        if approved
        else "no steward has approved it, and nothing spends budget without a recorded approval."
    )
    again = " --supersede" if draft.supersedes else ""
    raise refusal(
        f"The release of {draft.period}",
        why,
        [],
        f"See what it would use and spend, and approve it, with "
        f"`outcomes release --period {draft.period}{again}`.",
    )


def execute(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    plan_text: str,
    draft: ReleaseDraft,
    *,
    actor: str,
) -> ReleaseOutcome:
    """Find the steward's approval, check the draft's budgets, dry-run it, draw its noise and
    commit it (using up the approval)."""
    approval = approval_of(con, draft)
    parts = list(draft.parts)
    asked = _affordable(con, plan, draft).charges
    dry_run(plan, draft.period, parts, draft.contributing, draft.approved, key_sets=draft.key_sets)
    cells = compute(con, plan, draft.period, parts, draft.contributing, key_sets=draft.key_sets)
    crashpoint("after-noise")
    pausepoint("after-noise")
    commit(con, plan, draft, cells, actor=actor, plan_text=plan_text, approval=approval)
    crashpoint("after-commit")
    return ReleaseOutcome(
        draft.release_id, draft.period, draft.kind, asked, len(parts), draft.pending
    )


def release_period(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    plan_text: str,
    period: str,
    *,
    supersede: bool = False,
    actor: str = "hub release",
) -> ReleaseOutcome:
    """Release ``period`` (or return the stored release), spending each NGO's budget at most once
    and only under a steward's approval of exactly this release."""
    described = describe(con, plan, period, supersede=supersede)
    if isinstance(described, ReleaseOutcome):
        return described
    return execute(con, plan, plan_text, described, actor=actor)
