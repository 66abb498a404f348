"""A late NGO: its quarter is released without it, and its own figures follow as an addendum.

Runs the release core on an in-memory vault (the same schema, no encryption, no Dagster).
"""

from __future__ import annotations

import math

import duckdb
import pytest
from dp_helpers import PERIOD, ledger, load_rows, memory_vault, small_sector

from pipelines.hub.release import (
    Proposal,
    ReleaseError,
    correction_refusal,
    propose,
    release_period,
)
from pipelines.hub.release.approval import approve
from pipelines.hub.vault import releases
from pipelines.privacy.plan import PLAN_FILE, default_plan

STEWARD = "Mere (steward)"


def _release(con: duckdb.DuckDBPyConnection) -> str:
    plan = default_plan()
    made = propose(con, plan, PERIOD, by=STEWARD)
    approve(con, plan, made.proposal_id, by=STEWARD)
    return release_period(con, plan, PLAN_FILE.read_text(encoding="utf-8"), PERIOD).status


def test_a_late_ngo_is_released_as_an_addendum_that_charges_only_it() -> None:
    """Tests that a quarter released without a late NGO proposes, once the NGO's submissions are
    accepted, an addendum to the same release that computes only that NGO's own figures and
    charges only that NGO (in the ledger, so its rolling year counts it); the pooled cells stay
    as released, the late submissions become the release's inputs, and a further correction is
    still refused without --supersede."""
    con = memory_vault()
    episodes, assessments = small_sector()
    on_time = [r for r in episodes if r["ngo_id"] == "ngo-aroha"]
    load_rows(con, on_time, [r for r in assessments if r["ngo_id"] == "ngo-aroha"])
    assert _release(con) == "new"
    first = releases.current(con, PERIOD)
    assert first is not None
    pooled_before = con.execute(
        "SELECT count(*) FROM release_parts WHERE scope = 'pooled'"
    ).fetchone()
    spent_before = ledger(con)

    late = [r for r in episodes if r["ngo_id"] == "ngo-kauri"]
    load_rows(con, late, [r for r in assessments if r["ngo_id"] == "ngo-kauri"])
    assert releases.unreleased_submissions(con, PERIOD) == 2
    made = propose(con, default_plan(), PERIOD, by=STEWARD)
    assert isinstance(made, Proposal)
    assert made.kind == "addendum"
    assert made.release_id == first.release_id
    assert set(made.charges) == {"ngo-kauri"}
    approve(con, default_plan(), made.proposal_id, by=STEWARD)
    out = release_period(con, default_plan(), PLAN_FILE.read_text(encoding="utf-8"), PERIOD)
    assert out.status == "addendum"
    assert set(out.charged) == {"ngo-kauri"}

    held = ledger(con)
    assert held[(PERIOD, "ngo-aroha")] == spent_before[(PERIOD, "ngo-aroha")]
    assert math.isclose(held[(PERIOD, "ngo-kauri")], out.charged["ngo-kauri"], rel_tol=1e-12)
    pooled_after = con.execute(
        "SELECT count(*) FROM release_parts WHERE scope = 'pooled'"
    ).fetchone()
    assert pooled_after == pooled_before
    assert releases.unreleased_submissions(con, PERIOD) == 0
    assert releases.contributors(con, PERIOD) == {"ngo-aroha", "ngo-kauri"}
    assert correction_refusal(con, default_plan(), PERIOD) is None

    # Asked again, nothing is left to compute: the stored release, nothing spent.
    plan = default_plan()
    assert release_period(con, plan, PLAN_FILE.read_text(encoding="utf-8"), PERIOD).status == (
        "stored"
    )

    # A correction of ngo-kauri's episodes now needs a supersede, and says what it would spend.
    con.execute(
        "UPDATE submissions SET status = 'superseded' WHERE ngo_id = 'ngo-kauri' "
        "AND dataset = 'episodes'"
    )
    load_rows(con, late)
    con.execute(
        "UPDATE submissions SET status = 'superseded' WHERE ngo_id = 'ngo-kauri' "
        "AND dataset = 'assessments' AND rows = 0"
    )
    refused = correction_refusal(con, plan, PERIOD)
    assert refused is not None
    with pytest.raises(ReleaseError, match=r"supersedes it \(--supersede\)"):
        raise refused
