"""Neighbours: one extreme client moves no cell, and no vector, further than its declared bound.

The privacy unit is one client of one NGO in one period. These tests add such a
client, as extreme as the data standard allows (500 episodes, 1,000 sessions each, a
score pair at the ends of the scale in every domain of every episode), to a small
dataset and compare every cell's exact, pre-noise value with and without them, for
every statistic the plan knows, pooled and per NGO, under several breakdowns.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from dp_helpers import (
    PERIOD,
    START,
    Row,
    assessment,
    bounded_sector,
    episode,
    load_rows,
    memory_vault,
    plan_doc,
    pseudo,
)

from pipelines.hub.bounding import bound, exact_cells
from pipelines.privacy.plan import Measure, ReleasePlan, parse_plan
from pipelines.privacy.statistics import STATISTICS
from pipelines.standard.contract import load_contract

NGO = "ngo-aroha"
BREAKDOWNS: dict[str, list[tuple[str, ...]]] = {
    "distinct_clients": [
        (),
        ("programme",),
        ("programme", "region"),
        ("ethnicity",),
        ("programme", "ethnicity", "age_band", "gender"),
    ],
    "sessions": [(), ("programme",), ("programme", "region"), ("ethnicity", "gender")],
    "satisfaction_respondents": [(), ("programme",), ("programme", "region")],
    "satisfied_clients": [(), ("programme",), ("programme", "region")],
    "paired_clients": [(), ("programme",), ("programme", "region")],
    "improved_any_clients": [()],
    "change_pairs": [("domain",), ("domain", "programme"), ("domain", "programme", "region")],
    "change_total": [("domain",), ("domain", "programme"), ("domain", "programme", "region")],
    "improved_clients": [("domain",), ("domain", "programme"), ("domain", "programme", "region")],
    "change_distribution": [("domain", "change"), ("domain", "change", "programme", "region")],
    "worse_any_clients": [()],
    "group_pairs": [("domain_group",), ("domain_group", "ethnicity", "age_band", "gender")],
    "group_change_total": [
        ("domain_group",),
        ("domain_group", "ethnicity"),
        ("domain_group", "gender"),
    ],
    "group_improved": [("domain_group",), ("domain_group", "age_band")],
    "group_worse": [("domain_group",), ("domain_group", "ethnicity", "age_band", "gender")],
}
IMPROVED = {"improved_any_clients", "improved_clients", "group_improved"}
WORSE = {"worse_any_clients", "group_worse"}
EXITED = [("exit_reason",), ("programme", "exit_reason")]


@functools.cache
def neighbour_plan() -> ReleasePlan:
    """The release plan plus a measure for every statistic × scope × breakdown above."""
    doc = plan_doc()
    extra = []
    for stat, breakdowns in BREAKDOWNS.items():
        cases = [(by, None) for by in breakdowns]
        if stat == "distinct_clients":
            cases += [(by, "exited") for by in EXITED]
        for (by, where), scope in itertools.product(cases, ("pooled", "ngo")):
            measure = {
                "id": f"t_{stat}_{scope}_{'_'.join(by) or 'all'}_{where or ''}",
                "question": "how_much",
                "statistic": stat,
                "scope": scope,
                "by": list(by),
                "weight": 1,
            }
            if where:
                measure["where"] = where
            extra.append(measure)
    doc["measures"] = doc["measures"] + extra
    return parse_plan(doc)


def extreme_client(*, pre: int, post: int, spread: bool) -> tuple[list[Row], list[Row]]:
    """One client with 500 episodes of 1,000 sessions, every domain scored ``pre`` then ``post``
    on every episode; ``spread`` over every programme, region, group and exit reason, or all
    in one programme and region."""
    contract = load_contract("episodes")
    values = {c: contract.column(c).accepted_values for c in ("programme", "region", "age_band")}
    values |= {c: contract.column(c).accepted_values for c in ("gender", "ethnicity")}
    exits = contract.column("exit_reason").accepted_values
    domains = load_contract("assessments").column("domain").accepted_values
    client = pseudo("extreme", pre, post, spread)
    eps, ass = [], []
    for i in range(500):
        pick = {c: (v[i % len(v)] if spread else v[0]) for c, v in values.items()}
        start = START + timedelta(days=i % 80)
        eid = pseudo(client, "episode", i)
        eps.append(
            episode(
                NGO,
                client,
                eid,
                **pick,
                start=start,
                end=start + timedelta(days=5),
                exit_reason=exits[i % len(exits)] if spread else exits[0],
                sessions=1000,
            )
        )
        ass += [assessment(NGO, client, eid, d, pre, post=post) for d in domains]
    return eps, ass


def _exact(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, measure: Measure) -> pd.Series:
    ngos = sorted(
        n for (n,) in con.execute("SELECT DISTINCT ngo_id FROM current_episodes").fetchall()
    )
    frame = exact_cells(con, plan, measure, ngos if measure.scope == "ngo" else None)
    keys = [c for c in frame.columns if c != "value"]
    if not keys:
        return frame["value"]
    return frame.set_index(keys)["value"]


@pytest.fixture(scope="module")
def base_rows() -> tuple[list[Row], list[Row]]:
    return bounded_sector(seed=7, clients_per_ngo=30)


def _cells(rows: tuple[list[Row], list[Row]], plan: ReleasePlan) -> Iterator[pd.Series]:
    con = memory_vault()
    load_rows(con, *rows)
    bound(con, plan, PERIOD)
    for measure in plan.measures:
        yield _exact(con, plan, measure)
    con.close()


@pytest.mark.parametrize(
    ("pre", "post", "spread"),
    [(1, 5, True), (5, 1, True), (1, 5, False), (5, 1, False)],
    ids=["improves-spread", "worsens-spread", "improves-one-cell", "worsens-one-cell"],
)
def test_one_extreme_client_moves_each_cell_and_vector_within_the_declared_bounds(
    base_rows: tuple[list[Row], list[Row]], pre: int, post: int, spread: bool
) -> None:
    """Tests that a client with 500 episodes (1,000 sessions each; every score at an extreme)
    moves each cell's exact value of every measure, for every statistic, pooled and per NGO,
    by no more than the measure's declared per-cell bound, and the whole vector by no more
    than its declared L2 bound: the sensitivities that calibrate the noise are true."""
    plan = neighbour_plan()
    eps, ass = extreme_client(pre=pre, post=post, spread=spread)
    without = list(_cells(base_rows, plan))
    with_client = list(_cells((base_rows[0] + eps, base_rows[1] + ass), plan))
    seen: dict[tuple[str, str], float] = {}
    for measure, a, b in zip(plan.measures, without, with_client, strict=True):
        assert a.index.equals(b.index), measure.id  # the same public cells either way
        delta = (b - a).to_numpy(dtype=float)
        bound_ = plan.sensitivity(measure)
        per_cell, l2 = float(np.abs(delta).max()), float(np.sqrt((delta**2).sum()))
        assert per_cell <= bound_.per_cell + 1e-9, (measure.id, per_cell, bound_)
        assert l2 <= bound_.l2 + 1e-9, (measure.id, l2, bound_)
        key = (measure.statistic.name, measure.scope)
        seen[key] = max(seen.get(key, 0.0), per_cell)
    # Not vacuous: every statistic, in both scopes, was moved by the client ...
    assert {s for s, _ in seen} == set(STATISTICS)
    unmoved = {k for k, v in seen.items() if v == 0}
    if post > pre:  # ... except counts of the worse, which an improving client is not ...
        assert {s for s, _ in unmoved} == WORSE, unmoved
    else:  # ... nor counts of the improved and satisfied, which a worsening client is not.
        assert {s for s, _ in unmoved} == IMPROVED | {"satisfied_clients"}
    # ... and the bounds are reached, not just respected, where one cell takes it all.
    if not spread:
        assert seen[("sessions", "pooled")] == plan.episodes_per_client * plan.sessions_per_episode
        assert seen[("change_total", "ngo")] == plan.score_range[1] - plan.score_range[0]
        # A mean change over a group's domains, in tenths of a point: 4 points = 40 tenths.
        span = plan.score_range[1] - plan.score_range[0]
        assert (
            seen[("group_change_total", "ngo")]
            == span * STATISTICS["group_change_total"].resolution
        )
