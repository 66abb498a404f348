"""Promotion: the SQL re-check of staged rows, then staged submissions made current.

Promotion changes statuses only (the rows are already in the row tables), in
one transaction with its audit entries; the inbox folders are cleared after
it commits.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.db import transaction
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.vault import rows, submissions
from pipelines.hub.vault.checks import UnresolvedReferences, unresolved_references
from pipelines.standard.contract import DATASETS, load_contract
from pipelines.validation.sql_rules import count_orphans, count_violations


def staged_violations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Staged rows that break a contract rule, by rule id, re-checked in SQL (empty when all is well)."""
    found: dict[str, int] = {}
    for dataset in DATASETS:
        contract = load_contract(dataset)
        relation = rows.staged(dataset, with_submitted_on=True)
        counts = count_violations(con, contract, relation)
        for rel in contract.relationships:
            counts.update(
                count_orphans(con, contract, relation, rows.after_promotion(rel.to_dataset))
            )
        found.update({f"{dataset}: {rule}": n for rule, n in counts.items() if n})
    return found


@dataclass(frozen=True)
class Promotion:
    """What a promotion made current, and the references it left unresolved (see
    :class:`~pipelines.hub.vault.checks.UnresolvedReferences`)."""

    made_current: list[str]
    unresolved: list[UnresolvedReferences]
    superseded: list[str] = field(default_factory=list)
    left_in_inbox: list[str] = field(default_factory=list)
    """Folders the inbox still holds after the commit (a clean-up that failed); the next intake
    finds them current and lets them go. They never make a committed promotion a failure."""


def promote(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    ids: Iterable[str] | None = None,
    *,
    actor: str = "hub intake",
) -> Promotion:
    """Make staged submissions (all, or those in ``ids``) current, superseding those they replace.

    When one NGO-period-dataset has several staged submissions, the latest
    submitted wins and the others are superseded too: every one of them stays
    in the archive.
    """
    with transaction(con):
        plan = submissions.plan_promotion(con, list(ids) if ids is not None else None)
        winners = sorted({winner for winner, *_ in plan})
        if not winners:
            return Promotion([], [])
        submissions.apply_promotion(con, datetime.now(UTC))
        events = []
        seen: set[str] = set()
        for winner, ngo_id, period, dataset, sha, loser in plan:
            about = {"ngo_id": ngo_id, "period": period, "dataset": dataset}
            if loser:
                events.append(
                    audit.Event(actor, "superseded", loser, {**about, "superseded_by": winner})
                )
            if winner not in seen:
                seen.add(winner)
                events.append(audit.Event(actor, "accepted", winner, {**about, "sha256": sha}))
        # A resubmission can leave the NGO's other dataset pointing at rows it no longer has.
        replaced = {(ngo, per, ds): w for w, ngo, per, ds, _sha, loser in plan if loser}
        gaps = unresolved_references(con, {(ngo, per) for ngo, per, _ds in replaced})
        events += [
            audit.Event(
                actor,
                "references_unresolved",
                replaced.get((gap.ngo_id, gap.period, gap.to_dataset), gap.ngo_id),
                {
                    "ngo_id": gap.ngo_id,
                    "period": gap.period,
                    "dataset": gap.dataset,
                    "rule": gap.rule,
                    "rows": gap.rows,
                },
            )
            for gap in gaps
        ]
        audit.record(con, events)
    superseded = sorted({p[5] for p in plan if p[5]})
    # A submission superseded in the same batch is decided too: its folder goes as well.
    return Promotion(winners, gaps, superseded, _clear_inbox(home, {*winners, *superseded}))


def _clear_inbox(home: Home, ids: set[str]) -> list[str]:
    """Remove promoted submissions' inbox folders; return those that could not be removed."""
    left = []
    for sid in sorted(ids):
        folder = home.inbox / sid
        try:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
        except OSError:
            left.append(sid)
    return left
