"""Releasing a period: describe the release, check its budget, draw its noise, commit.

The order of work makes the guarantees:

1. :func:`describe` plans every part from the vault's state without drawing
   noise, and refuses a release an NGO cannot pay for;
2. the budget check runs before any mechanism: a release that would exceed
   any NGO's budget is refused whole, saying what is left and what was asked;
3. the whole plan is dry-run on empty tables of the vault's schema;
4. exact aggregates are computed, noise is drawn (OpenDP), and everything is
   committed in one transaction.

Running again returns the stored release and spends nothing. A changed plan
needs ``supersede``, which spends again, and the ledger shows both.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from pipelines.hub import ledger
from pipelines.hub.crash import crashpoint
from pipelines.hub.release.budget import (
    allotment,
    check_budget,
    check_registered,
    check_supersede,
)
from pipelines.hub.release.draft import ReleaseDraft, ReleaseOutcome
from pipelines.hub.release.errors import NothingToRelease, ReleaseError
from pipelines.hub.release.noise import compute, dry_run
from pipelines.hub.release.parts import plan_parts
from pipelines.hub.release.store import commit, contributing_ngos
from pipelines.hub.vault import budgets, releases
from pipelines.privacy.plan import ReleasePlan


def describe(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    *,
    registered: Collection[str],
    supersede: bool = False,
) -> ReleaseDraft | ReleaseOutcome:
    """The release ``period`` needs now, or the stored release when there is nothing to compute.

    ``registered``: the NGO ids of the register; a contributor it lacks refuses the release.
    """
    contributing = contributing_ngos(con, period)
    if not contributing["episodes"]:
        raise NothingToRelease(f"Nothing to release for {period}: no accepted submissions.")
    approved = budgets.approved(con, period)
    ngos = sorted(set(contributing["episodes"]) | set(contributing["assessments"]))
    check_registered(period, ngos, registered)
    budget = ledger.budgets(con, plan, period, ngos)
    current = releases.current(con, period)
    if current and not supersede:
        if current.plan_digest != plan.digest:
            raise ReleaseError(
                f"{period} was released as {current.release_id} with another version of the "
                "release plan. To release it again with the current plan, which spends budget "
                f"again, run: outcomes release --period {period} --supersede"
            )
        base = allotment(
            period, budget, releases.spent(con, period, except_release=current.release_id)
        )
        done = releases.part_ids(con, current.release_id)
        parts, pending = plan_parts(plan, contributing, base, approved, done)
        governed = tuple(p for p in parts if p.component.governed)
        if not governed:
            return ReleaseOutcome(
                current.release_id, period, "stored", pending_approval=tuple(pending)
            )
        return ReleaseDraft(
            current.release_id,
            period,
            "addendum",
            current.version,
            None,
            contributing,
            base,
            approved,
            governed,
            tuple(pending),
        )
    version = releases.next_version(con, period)
    previous = current.release_id if current else None
    base = allotment(period, budget, releases.spent(con, period))
    if previous:
        check_supersede(period, previous, budget, base, releases.allotments(con, previous))
    parts, pending = plan_parts(plan, contributing, base, approved)
    return ReleaseDraft(
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
    )


def execute(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    plan_text: str,
    draft: ReleaseDraft,
    *,
    actor: str,
) -> ReleaseOutcome:
    """Check the draft's budget, dry-run it, draw its noise and commit it."""
    parts = list(draft.parts)
    asked = draft.charges
    check_budget(draft.period, ledger.balances(con, plan, draft.period, asked), asked)
    dry_run(plan, draft.period, parts, draft.contributing, draft.approved)
    cells = compute(con, plan, draft.period, parts, draft.contributing)
    crashpoint("after-noise")
    commit(con, plan, draft, cells, actor=actor, plan_text=plan_text)
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
    registered: Collection[str],
    supersede: bool = False,
    actor: str = "hub release",
) -> ReleaseOutcome:
    """Release ``period`` (or return the stored release), spending each NGO's budget at most once."""
    described = describe(con, plan, period, registered=registered, supersede=supersede)
    if isinstance(described, ReleaseOutcome):
        return described
    return execute(con, plan, plan_text, described, actor=actor)
