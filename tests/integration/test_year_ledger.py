"""A client through a year of quarters: the rolling-year cap counts every spend, supersedes and
addenda included, and the ledger holds exactly what the mechanisms charged.

Runs the release core on an in-memory vault (the same schema, no encryption, no Dagster): the
same two small NGOs, with the same clients (stable pseudonyms), submit in four consecutive
quarters.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date

import duckdb
import pytest
from dp_helpers import START, Row, ledger, load_rows, memory_vault, small_sector, snapshot

from pipelines.hub import ledger as budgets
from pipelines.hub.release import ReleaseError, propose_and_approve, release_period
from pipelines.hub.release import noise as release_noise
from pipelines.hub.rolling_year import set_annual_cap, year_balances
from pipelines.privacy.mechanisms import charged_rho
from pipelines.privacy.plan import PLAN_FILE, default_plan
from pipelines.standard.periods import Period

QUARTERS = ("2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3")
NGOS = ("ngo-aroha", "ngo-kauri")
STEWARD = "Mere (steward)"


def _moved(rows: list[Row], period: str) -> list[Row]:
    """The rows with their dates moved into ``period`` (the fixture's dates are in 2025-Q3)."""
    shift = Period.parse(period).start - START

    def move(value: object) -> object:
        return value + shift if isinstance(value, date) else value

    return [{k: move(v) for k, v in row.items()} for row in rows]


def _release(con: duckdb.DuckDBPyConnection, period: str, *, supersede: bool = False) -> None:
    plan = default_plan()
    propose_and_approve(con, plan, period, by=STEWARD, supersede=supersede)
    release_period(con, plan, PLAN_FILE.read_text(encoding="utf-8"), period, supersede=supersede)


def _mechanisms_charged(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], float]:
    """Per (period, NGO): the sum of every stored part's charge, recomputed by OpenDP's privacy
    map from its stored noise scale and sensitivity, paid by its NGO (per-NGO parts) or by every
    NGO whose submissions the release read (pooled parts)."""
    readers: dict[str, set[str]] = defaultdict(set)
    for release_id, ngo in con.execute(
        "SELECT i.release_id, s.ngo_id FROM release_inputs i JOIN submissions s USING "
        "(submission_id)"
    ).fetchall():
        readers[release_id].add(ngo)
    total: dict[tuple[str, str], float] = defaultdict(float)
    for release_id, period, scope, ngo, scale, l2 in con.execute(
        "SELECT p.release_id, r.period, p.scope, p.ngo_id, p.noise_scale, p.l2_sensitivity "
        "FROM release_parts p JOIN releases r USING (release_id)"
    ).fetchall():
        for payer in [ngo] if scope == "ngo" else sorted(readers[release_id]):
            total[(period, payer)] += charged_rho(scale, l2)
    return dict(total)


def test_a_client_through_four_quarters_a_supersede_and_an_addendum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests a year of quarters for clients who stay all year: four quarterly releases, an
    addendum (governance approval of one quarter's Māori-data cells) and a superseding release
    of a corrected quarter. The supersede, over the plan's rolling-year cap, is refused before
    any mechanism and spends nothing, naming the four quarters; once the cap is raised it
    goes ahead. Per NGO and quarter, and over the four quarters, the ledger's sum equals the
    sum of the mechanisms' own charges (OpenDP's privacy maps recomputed from the stored
    scales), the rolling year shown to stewards is that sum, and it stays within the cap."""
    plan = default_plan()
    con = memory_vault()
    episodes, assessments = small_sector()
    for quarter in QUARTERS:
        load_rows(con, _moved(episodes, quarter), _moved(assessments, quarter), period=quarter)
        _release(con, quarter)
    budgets.decide(
        con, plan, action="approve", dimension="ethnicity", value="maori", period="2025-Q1",
        by="Hine (governance group)", note="approved at hui, minute 4",
    )  # fmt: skip
    _release(con, "2025-Q1")  # the addendum: Māori-data cells of 2025-Q1 only

    # ngo-aroha corrects its 2025-Q2 episodes (one session more on its first episode).
    corrected = _moved(episodes, "2025-Q2")
    corrected[0] = {**corrected[0], "sessions": corrected[0]["sessions"] + 1}
    con.execute(
        "UPDATE submissions SET status = 'superseded' WHERE period = '2025-Q2' "
        "AND ngo_id = 'ngo-aroha' AND dataset = 'episodes'"
    )
    load_rows(con, [r for r in corrected if r["ngo_id"] == "ngo-aroha"], period="2025-Q2")
    con.execute(  # load_rows gives each NGO an assessments submission too: keep the one there was
        "UPDATE submissions SET status = 'superseded' WHERE period = '2025-Q2' "
        "AND ngo_id = 'ngo-aroha' AND dataset = 'assessments' AND rows = 0"
    )
    budgets.set_budget(con, plan, period="2025-Q2", ngo_id="*", rho=1.0, by=STEWARD)
    before = (dict(snapshot(con)), ledger(con))

    def no_mechanism(*_args: object, **_kw: object) -> None:
        raise AssertionError("a mechanism ran for a release over the rolling-year cap")

    with monkeypatch.context() as mp:
        mp.setattr(release_noise, "add_noise", no_mechanism)
        with pytest.raises(ReleaseError, match=r"rolling-year cap") as caught:
            _release(con, "2025-Q2", supersede=True)
    text = str(caught.value)
    assert "refused and nothing was spent: 2 NGO(s) would spend more" in text
    assert "ngo-aroha: quarters 2024-Q4..2025-Q3 cap rho 2, already spent" in text
    assert "this release asks" in text
    assert (dict(snapshot(con)), ledger(con)) == before

    set_annual_cap(con, plan, ngo_id="*", rho=2.6, by=STEWARD, note="the 2025-Q2 correction")
    _release(con, "2025-Q2", supersede=True)

    held = ledger(con)
    charged = _mechanisms_charged(con)
    assert set(held) == {(q, n) for q in QUARTERS for n in NGOS}
    for key, rho in held.items():
        assert math.isclose(rho, charged[key], rel_tol=1e-12), key
    kinds = con.execute("SELECT count(*) FROM releases WHERE period = '2025-Q2'").fetchone()
    assert kinds == (2,)  # both releases of the corrected quarter are in the ledger
    for ngo in NGOS:
        year = sum(held[(q, ngo)] for q in QUARTERS)
        assert math.isclose(year, sum(charged[(q, ngo)] for q in QUARTERS), rel_tol=1e-12)
        assert year > 2.0  # the supersede and the addendum counted: four quarters alone are 1.93
        shown = {y.ngo_id: y for y in year_balances(con, plan, "2025-Q3", NGOS)}[ngo]
        assert shown.window == "2024-Q4..2025-Q3"
        assert math.isclose(shown.spent, year, rel_tol=1e-12)
        assert shown.spent <= shown.cap == 2.6
    statuses = dict(
        con.execute("SELECT status, count(*) FROM release_proposals GROUP BY 1").fetchall()
    )
    assert statuses == {"released": 6}
