"""A proposed release: what releasing a period would read and spend, shown before anyone approves.

A proposal is built on :func:`~pipelines.hub.release.run.describe`'s draft, so
it is exactly the release that would run, and carries the draft's digest: the
steward approves that digest, and the release core spends only under an
approval whose digest matches the release it is about to make. Around the
draft it adds what the steward decides on: each NGO's spend against its
quarter budget and its rolling year, the accuracy the noise gives, and what is
missing. Building one spends nothing and draws no noise. Pure: the vault is
read and written by :mod:`pipelines.hub.release.approval`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pipelines.hub.ledger import Balance
from pipelines.hub.release.draft import ReleaseDraft
from pipelines.hub.release.parts import Part
from pipelines.hub.rolling_year import YearBalance
from pipelines.hub.vault.proposals import StoredProposal
from pipelines.hub.vault.statuses import ProposalStatus
from pipelines.privacy.mechanisms import halfwidth_95


@dataclass(frozen=True)
class NgoSpend:
    """What a proposed release asks of one NGO, against what its quarter and its year have left."""

    ngo_id: str
    asks: float
    budget: float
    spent: float
    """Spent in the period by its other releases, before this one."""
    year: YearBalance
    """The busiest four consecutive quarters containing the period, before this release."""

    @property
    def quarter_after(self) -> float:
        return self.spent + self.asks

    @property
    def year_after(self) -> float:
        return self.year.spent + self.asks


@dataclass(frozen=True)
class Accuracy:
    """The expected 95% half-width of one measure's cells (count or sum units, before division)."""

    measure: str
    scope: str
    low: float
    high: float


@dataclass(frozen=True)
class Missing:
    """What the proposed release will not see."""

    not_submitted: tuple[str, ...] | None
    """Registered NGOs with no current submission of the period (None: no register given)."""
    not_again: tuple[str, ...]
    """NGOs in the previous quarter's release with no current submission of this one."""
    without_assessments: tuple[str, ...]
    """NGOs with current episodes but no current assessments (their outcomes are left out)."""
    unresolved: tuple[str, ...]
    """Unresolved references, as the messages ``outcomes status`` prints."""

    @property
    def anything(self) -> bool:
        return bool(
            self.not_submitted or self.not_again or self.without_assessments or self.unresolved
        )


@dataclass(frozen=True)
class Proposal:
    """A release of a period as it would be made now, waiting for (or given) a steward's approval."""

    proposal_id: str
    period: str
    kind: str
    release_id: str
    supersedes: str | None
    digest: str
    plan_digest: str
    inputs: tuple[str, ...]
    spends: tuple[NgoSpend, ...]
    accuracy: tuple[Accuracy, ...]
    missing: Missing
    pending: tuple[str, ...]
    """Governed parts left out: they wait for the governance group and spend nothing."""
    proposed_at: datetime
    proposed_by: str
    status: ProposalStatus

    @property
    def charges(self) -> dict[str, float]:
        return {s.ngo_id: s.asks for s in self.spends}

    def summary(self) -> dict[str, Any]:
        """What the vault keeps beside the proposal's own columns (JSON)."""
        return {
            "spends": [asdict(s) for s in self.spends],
            "accuracy": [asdict(a) for a in self.accuracy],
            "missing": asdict(self.missing),
            "pending": list(self.pending),
        }

    @classmethod
    def from_stored(cls, stored: StoredProposal) -> Proposal:
        summary = stored.summary
        missing = dict(summary["missing"])
        return cls(
            proposal_id=stored.proposal_id,
            period=stored.period,
            kind=stored.kind,
            release_id=stored.release_id,
            supersedes=stored.supersedes,
            digest=stored.digest,
            plan_digest=stored.plan_digest,
            inputs=stored.inputs,
            spends=tuple(_spend(s) for s in summary["spends"]),
            accuracy=tuple(Accuracy(**a) for a in summary["accuracy"]),
            missing=Missing(
                not_submitted=None
                if missing["not_submitted"] is None
                else tuple(missing["not_submitted"]),
                not_again=tuple(missing["not_again"]),
                without_assessments=tuple(missing["without_assessments"]),
                unresolved=tuple(missing["unresolved"]),
            ),
            pending=tuple(summary["pending"]),
            proposed_at=stored.proposed_at,
            proposed_by=stored.proposed_by,
            status=stored.status,
        )


def _spend(raw: Mapping[str, Any]) -> NgoSpend:
    year = raw["year"]
    return NgoSpend(
        ngo_id=raw["ngo_id"],
        asks=float(raw["asks"]),
        budget=float(raw["budget"]),
        spent=float(raw["spent"]),
        year=YearBalance(
            year["ngo_id"],
            tuple(year["quarters"]),
            tuple(float(v) for v in year["spent_by_quarter"]),
            float(year["cap"]),
        ),
    )


def expected_accuracy(parts: Iterable[Part]) -> tuple[Accuracy, ...]:
    """Per measure and scope, the smallest and largest expected 95% half-width of its parts
    (per-NGO parts differ when NGOs' budgets do), in the plan's order."""
    found: dict[tuple[str, str], list[float]] = {}
    for part in parts:
        key = (part.measure.id, part.measure.scope)
        found.setdefault(key, []).append(halfwidth_95(part.calibration.scale))
    return tuple(Accuracy(m, s, min(hw), max(hw)) for (m, s), hw in found.items())


def build(
    draft: ReleaseDraft,
    *,
    proposal_id: str,
    balances: Sequence[Balance],
    years: Sequence[YearBalance],
    missing: Missing,
    at: datetime,
    by: str,
) -> Proposal:
    """The proposal of ``draft``: its digest, and what it asks of every NGO it charges."""
    asked = draft.charges
    year_of = {y.ngo_id: y for y in years}
    spends = tuple(
        NgoSpend(b.ngo_id, asked[b.ngo_id], b.budget, b.spent, year_of[b.ngo_id])
        for b in sorted(balances, key=lambda b: b.ngo_id)
        if b.ngo_id in asked
    )
    return Proposal(
        proposal_id=proposal_id,
        period=draft.period,
        kind=draft.kind,
        release_id=draft.release_id,
        supersedes=draft.supersedes,
        digest=draft.digest,
        plan_digest=draft.plan_digest,
        inputs=draft.inputs,
        spends=spends,
        accuracy=expected_accuracy(draft.parts),
        missing=missing,
        pending=draft.pending,
        proposed_at=at,
        proposed_by=by,
        status=ProposalStatus.WAITING,
    )
