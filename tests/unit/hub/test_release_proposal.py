"""A proposed release without a vault: what its digest covers, and what it keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipelines.hub.ledger import Balance
from pipelines.hub.release.draft import ReleaseDraft
from pipelines.hub.release.parts import plan_parts
from pipelines.hub.release.proposal import Missing, Proposal, build
from pipelines.hub.rolling_year import YearBalance
from pipelines.hub.vault.proposals import StoredProposal
from pipelines.privacy.plan import default_plan

NGOS = ["ngo-aroha", "ngo-kauri"]
EVERYONE = {"episodes": NGOS, "assessments": NGOS}
INPUTS = ("2025-Q3.ngo-aroha.episodes.aaaaaaaaaaaa", "2025-Q3.ngo-kauri.episodes.bbbbbbbbbbbb")
QUARTERS = ("2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3")


def _draft(
    inputs: tuple[str, ...] = INPUTS, rho: float = 0.5, plan_digest: str = "plan-1"
) -> ReleaseDraft:
    budget = dict.fromkeys(NGOS, rho)
    parts, pending = plan_parts(default_plan(), EVERYONE, budget, frozenset())
    return ReleaseDraft(
        "2025-Q3-r1", "2025-Q3", "new", 1, None, EVERYONE, budget, frozenset(), tuple(parts),
        tuple(pending), plan_digest, inputs,
    )  # fmt: skip


def test_the_digest_changes_with_what_a_release_reads_or_spends_and_nothing_else() -> None:
    """Tests that the digest an approval names is the same for the same release, and differs
    when a submission is added or replaced, when a budget (so a part's rho) changes, or when
    the plan does."""
    assert _draft().digest == _draft().digest
    assert _draft(inputs=(*INPUTS, "2025-Q3.ngo-tui.episodes.cccccccccccc")).digest != (
        _draft().digest
    )
    assert _draft(inputs=(INPUTS[0], "2025-Q3.ngo-kauri.episodes.dddddddddddd")).digest != (
        _draft().digest
    )
    assert _draft(rho=0.6).digest != _draft().digest
    assert _draft(plan_digest="plan-2").digest != _draft().digest


def test_a_proposal_asks_each_ngo_its_charge_and_reads_back_what_the_vault_keeps() -> None:
    """Tests that a proposal carries the draft's digest and, per NGO, what it asks beside the
    quarter's budget and the rolling year (after it: spent plus asked), lists the expected
    accuracy per measure, and is rebuilt unchanged from what the vault stores (JSON)."""
    draft = _draft()
    years = [YearBalance(n, QUARTERS, (0.5, 0.5, 0.4, 0.0), 2.0) for n in NGOS]
    at = datetime(2025, 11, 1, 6, tzinfo=UTC)
    proposal = build(
        draft,
        proposal_id="2025-Q3-p1",
        balances=[Balance(n, "2025-Q3", 0.5, 0.0) for n in NGOS],
        years=years,
        missing=Missing(None, ("ngo-tui",), (), ()),
        at=at,
        by="release schedule",
    )
    assert proposal.digest == draft.digest
    assert proposal.charges == draft.charges
    aroha = proposal.spends[0]
    assert aroha.year_after == aroha.year.spent + aroha.asks
    assert aroha.quarter_after == aroha.asks <= 0.5
    assert {a.measure for a in proposal.accuracy} == {m.id for m in default_plan().measures}
    stored = StoredProposal(
        proposal.proposal_id, proposal.period, proposal.kind, proposal.release_id, None,
        proposal.digest, proposal.plan_digest, proposal.inputs,
        json.loads(json.dumps(proposal.summary())), at, "release schedule", proposal.status,
    )  # fmt: skip
    assert Proposal.from_stored(stored) == proposal
