"""The known pitfalls of DP group-by front ends, and the tests that the hub designed around each.

OpenDP's polars front end (0.15, 0.16) keeps truncated groups by key order, fills
nulls in bounded columns with the middle of the bounds, imputes empty groups,
under-reports the cost of public keys declared as invariants, clamps counts at zero
unless signed, and can fail after the budget is spent. The hub bounds in SQL and
noises with OpenDP's core mechanism instead; each test here shows one pitfall avoided.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dp_helpers import (
    NEVER_WITHHOLD,
    PERIOD,
    START,
    Row,
    all_cells_of,
    assessment,
    bounded_sector,
    episode,
    ledger,
    load_rows,
    memory_vault,
    plan_with,
    pseudo,
    snapshot,
)

from pipelines.home import Home
from pipelines.hub.bounding import bound, exact_cells
from pipelines.hub.publish import publish
from pipelines.hub.release import (
    ReleaseError,
    compute,
    contributing_ngos,
    ngos_by_measure,
    plan_parts,
    propose_and_approve,
    release_period,
)
from pipelines.hub.release import noise as release_noise
from pipelines.privacy.plan import PLAN_FILE, default_plan
from pipelines.privacy.postprocess import NO_DENOMINATOR, publish_cells
from pipelines.published.store import read_table
from pipelines.standard.contract import load_contract

PROGRAMMES = load_contract("episodes").column("programme").accepted_values


def _noise_free_cells(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> pd.DataFrame:
    """Published cells computed without noise (to see exact post-processing), under a copy of
    the plan that withholds only cells it cannot bound."""
    plan = plan_with(reliability=NEVER_WITHHOLD)
    contributing = contributing_ngos(con, PERIOD)
    budget = dict.fromkeys(contributing["episodes"], plan.default_rho)
    parts, _ = plan_parts(plan, contributing, budget, frozenset())
    with monkeypatch.context() as mp:
        mp.setattr(release_noise, "add_noise", lambda values, scale: list(values))
        raw = compute(con, plan, PERIOD, parts, contributing)
    return publish_cells(raw, plan, ngos_by_measure(parts, contributing), frozenset())


def _release(con: duckdb.DuckDBPyConnection) -> str:
    propose_and_approve(con, default_plan(), PERIOD, by="steward")
    outcome = release_period(con, default_plan(), PLAN_FILE.read_text(encoding="utf-8"), PERIOD)
    return outcome.release_id


def test_truncation_keeps_each_programme_equally_often_not_the_first_in_key_order() -> None:
    """Tests that keeping 3 of a client's 8 episodes is unbiased by key order: 2,000 clients,
    each with one episode in every programme (episode ids sorted in programme order), keep
    each programme in 3/8 of clients (750 ± 5 SD of the hypergeometric spread, 108), where
    keeping by key order would keep the same three programmes for everyone."""
    plan = default_plan()
    clients = 2000
    eps = [
        episode("ngo-aroha", f"client-{c:05d}", f"client-{c:05d}-{k}", programme=programme)
        for c in range(clients)
        for k, programme in enumerate(PROGRAMMES)
    ]
    con = memory_vault()
    load_rows(con, eps)
    bound(con, plan, PERIOD)
    kept = Counter(
        dict(con.execute("SELECT programme, count(*) FROM b_episodes GROUP BY 1").fetchall())
    )
    per_client = con.execute(
        "SELECT max(n), min(n) FROM (SELECT count(*) n FROM b_episodes GROUP BY client_id)"
    ).fetchone()
    assert per_client == (plan.episodes_per_client, plan.episodes_per_client)
    expected = clients * plan.episodes_per_client / len(PROGRAMMES)
    assert set(kept) == set(PROGRAMMES)
    for programme in PROGRAMMES:
        assert abs(kept[programme] - expected) < 108, (programme, kept)
    # And the truncated episodes are what the released counts see.
    m = plan.measure("clients_by_programme")
    counts = exact_cells(con, plan, m).set_index("programme")["value"]
    assert counts.to_dict() == {p: kept[p] for p in PROGRAMMES}


def test_a_missing_later_score_is_never_imputed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an assessment without a post_score never becomes a pair: in a domain where
    every row lacks its later score, there are no pairs and no change (not a mid-range
    imputation), and the mean change for that domain is withheld with the "may be zero"
    reason, never published as a value; a domain group's mean (the NGO's) is the mean of the
    paired domains only, and a group with no pair is withheld the same way."""
    plan = default_plan()
    eps: list[Row] = []
    ass: list[Row] = []
    for c in range(400):  # enough pairs for a pooled mean over eight programmes' noise
        client = pseudo("unpaired", c)
        eid = pseudo("unpaired-episode", c)
        eps.append(episode("ngo-aroha", client, eid, programme="parenting"))
        ass.append(assessment("ngo-aroha", client, eid, "housing", pre=1 + c % 5, post=None))
        ass.append(assessment("ngo-aroha", client, eid, "mental_wellbeing", pre=2, post=4))
    con = memory_vault()
    load_rows(con, eps, ass)
    bound(con, plan, PERIOD)
    assert con.execute("SELECT count(*) FROM b_pairs WHERE domain = 'housing'").fetchone() == (0,)
    for measure_id in ("change_pairs", "change_total", "improved_clients"):
        cells = exact_cells(con, plan, plan.measure(measure_id))
        housing = cells[cells["domain"] == "housing"]["value"]
        assert (housing == 0).all(), measure_id
        wellbeing = cells[
            (cells["domain"] == "mental_wellbeing") & (cells["programme"] == "parenting")
        ]
        assert wellbeing["value"].tolist() == [{"change_total": 800}.get(measure_id, 400)]
    distribution = exact_cells(con, plan, plan.measure("change_distribution"))
    assert distribution[distribution["domain"] == "housing"]["value"].sum() == 0

    cells = _noise_free_cells(con, monkeypatch)
    for measure_id in ("mean_change", "mean_change_by_domain"):
        housing = cells[(cells["measure"] == measure_id) & (cells["domain"] == "housing")]
        assert len(housing) > 0
        assert (housing["reliability"] == "withheld").all()
        assert housing["value"].isna().all()
        assert (housing["withheld_reason"] == NO_DENOMINATOR).all()
        paired = cells[
            (cells["measure"] == measure_id)
            & (cells["domain"] == "mental_wellbeing")
            & (cells["programme"].isin(["parenting"]) | cells["programme"].isna())
        ]
        assert paired["value"].tolist() == [2.0] * len(paired)
    own = cells[cells["measure"] == "ngo_mean_change"].set_index("domain_group")
    assert own.loc["circumstances", "value"] == 2.0  # housing (never paired) is not averaged in
    assert own.loc["goals", "reliability"] == "withheld"
    assert own.loc["goals", "withheld_reason"] == NO_DENOMINATOR


def test_empty_groups_are_not_imputed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that empty groups stay empty: a ratio over a programme nobody attended is
    withheld with the "may be zero" reason (no imputed share), and the count cells of empty
    groups are exact zeros before noise and signed noise around zero after it (hundreds of
    cells: some below zero, some above, averaging near zero)."""
    eps, ass = bounded_sector(seed=3, ngos=("ngo-aroha",), clients_per_ngo=60)
    con = memory_vault()
    load_rows(con, eps, ass)
    plan = default_plan()
    absent = sorted(set(PROGRAMMES) - {r["programme"] for r in eps})
    assert absent

    cells = _noise_free_cells(con, monkeypatch)
    for measure_id in ("share_satisfied", "share_paired", "sessions_per_client", "mean_change"):
        empty = cells[(cells["measure"] == measure_id) & cells["programme"].isin(absent)]
        assert len(empty) >= len(absent)
        assert (empty["reliability"] == "withheld").all(), measure_id
        assert (empty["withheld_reason"] == NO_DENOMINATOR).all(), measure_id
        assert empty["value"].isna().all()

    release_id = _release(con)
    stored = con.execute(
        "SELECT measure, programme, raw_value, noise_scale FROM release_cells "
        "WHERE release_id = ? AND measure = 'clients_by_programme_region' AND programme IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [release_id, absent],
    ).df()
    bound(con, plan, PERIOD)
    exact = exact_cells(con, plan, plan.measure("clients_by_programme_region"))
    assert (exact[exact["programme"].isin(absent)]["value"] == 0).all()
    n, scale = len(stored), float(stored["noise_scale"].iloc[0])
    assert n == len(absent) * len(plan.key_sets["region"])
    assert (stored["raw_value"] < 0).any()
    assert (stored["raw_value"] > 0).any()
    assert abs(stored["raw_value"].mean()) < 5 * scale / np.sqrt(n)


def test_keys_are_public_whatever_the_data() -> None:
    """Tests that group keys come from the contracts, not the data, and cost the same: two
    datasets (one using a single programme and region, one using many) release exactly the
    cells of each breakdown's enum cross product (per NGO for NGO measures), and every NGO
    is charged the same rho for the same parts."""
    plan = default_plan()
    narrow = [
        episode(
            "ngo-aroha", pseudo("n", c), pseudo("n-ep", c), programme="parenting", region="Otago"
        )
        for c in range(20)
    ] + [episode("ngo-kauri", pseudo("k", c), pseudo("k-ep", c)) for c in range(5)]
    wide, wide_ass = bounded_sector(seed=5, ngos=("ngo-aroha", "ngo-kauri"), clients_per_ngo=40)
    charged = []
    for episodes, assessments in ((narrow, []), (wide, wide_ass)):
        con = memory_vault()
        load_rows(con, episodes, assessments)
        release_id = _release(con)
        cells = con.execute("SELECT * FROM release_cells WHERE release_id = ?", [release_id]).df()
        for measure in plan.measures:
            mine = cells[cells["measure"] == measure.id]
            keys = {
                tuple(str(v) for v in row) for row in mine[list(measure.by)].itertuples(index=False)
            }
            governed = plan.governed_dimensions(measure)
            expected = {  # the enum cross product; Māori-data cells wait for approval
                k
                for k in all_cells_of(plan, measure.by)
                if not any(k[measure.by.index(d)] in plan.governed[d] for d in governed)
            }
            assert keys == expected, measure.id
            if measure.scope == "ngo":
                assert set(mine["ngo_id"]) == {"ngo-aroha", "ngo-kauri"}
                assert len(mine) == 2 * len(expected), measure.id
            else:
                assert mine["ngo_id"].isna().all()
                assert len(mine) == len(expected), measure.id
        charged.append(
            con.execute(
                "SELECT part_id, ngo_id, rho FROM spends WHERE release_id = ? ORDER BY 1, 2",
                [release_id],
            ).fetchall()
        )
    assert charged[0] == charged[1]


def test_counts_are_signed_before_post_processing(tmp_path: Path) -> None:
    """Tests that noise is signed: the stored raw noisy value of an empty count cell can be
    negative, while its published value is never below zero and its interval still covers
    zero (the truth)."""
    eps, ass = bounded_sector(seed=9, ngos=("ngo-aroha",), clients_per_ngo=30)
    con = memory_vault()
    load_rows(con, eps, ass)
    plan = default_plan()
    release_id = _release(con)
    raw = con.execute(
        "SELECT * FROM release_cells WHERE release_id = ? AND raw_value < 0", [release_id]
    ).df()
    count_measures = [m.id for m in plan.measures if m.statistic.kind == "count"]
    raw = raw[raw["measure"].isin(count_measures)]
    assert len(raw) > 50
    home = Home(tmp_path / "home")
    publish(home, con, plan)
    cells = read_table(home.published_db, "cells", "kind = 'count'")
    assert (cells["value"].dropna() >= 0).all()
    keys = ["measure", "ngo_id", *plan.published_dimensions]
    joined = (
        raw[keys]
        .astype(object)
        .fillna("-")
        .merge(cells.assign(**{k: cells[k].astype(object).fillna("-") for k in keys}), on=keys)
    )
    assert len(joined) == len(raw)
    shown = joined[joined["reliability"] != "withheld"]
    assert (shown["value"] == 0).all()
    assert ((shown["ci95_low"] <= 0) & (shown["ci95_high"] >= 0)).all()


class MechanismFault(RuntimeError):
    """Raised by a deliberately broken mechanism."""


def test_a_failure_in_the_dry_run_spends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a mechanism that fails is caught by the dry run on empty data, before the
    vault is touched: the release is refused with the fault named and nothing is spent."""
    eps, ass = bounded_sector(seed=2, ngos=("ngo-aroha",), clients_per_ngo=20)
    con = memory_vault()
    load_rows(con, eps, ass)
    before = (snapshot(con), ledger(con))

    def broken(values: list[int], scale: float) -> list[int]:
        raise MechanismFault("the sampler broke")

    monkeypatch.setattr(release_noise, "add_noise", broken)
    with pytest.raises(ReleaseError, match=r"dry run .* nothing was spent.*the sampler broke"):
        _release(con)
    assert (snapshot(con), ledger(con)) == before


def test_a_failure_in_the_real_run_spends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a mechanism failing on real data (after a clean dry run) leaves no release,
    no cells and no spend: the ledger is written only with the release, in one transaction."""
    eps, ass = bounded_sector(seed=2, ngos=("ngo-aroha",), clients_per_ngo=20)
    con = memory_vault()
    load_rows(con, eps, ass)
    before = (snapshot(con), ledger(con))
    real = release_noise.add_noise

    def fails_on_data(values: list[int], scale: float) -> list[int]:
        if any(values):
            raise MechanismFault("the sampler broke on real data")
        return real(values, scale)

    monkeypatch.setattr(release_noise, "add_noise", fails_on_data)
    with pytest.raises(MechanismFault):
        _release(con)
    assert (snapshot(con), ledger(con)) == before
    monkeypatch.setattr(release_noise, "add_noise", real)
    _release(con)  # and the next run goes through, spending once
    assert len(ledger(con)) == 1


def test_the_same_client_data_never_changes_the_episodes_kept() -> None:
    """Tests that truncation is a fixed function of the (pseudonymised) episode ids, not of
    row order: the same rows loaded in reverse order keep the same episodes."""
    plan = default_plan()
    eps = [
        episode(
            "ngo-aroha",
            pseudo("c", c),
            pseudo("e", c, k),
            programme=PROGRAMMES[k],
            start=START + timedelta(days=k),
        )
        for c in range(50)
        for k in range(6)
    ]
    kept = []
    for rows in (eps, eps[::-1]):
        con = memory_vault()
        load_rows(con, rows)
        bound(con, plan, PERIOD)
        kept.append(
            sorted(r for (r,) in con.execute("SELECT episode_id FROM b_episodes").fetchall())
        )
    assert kept[0] == kept[1]
    assert len(kept[0]) == 50 * plan.episodes_per_client
