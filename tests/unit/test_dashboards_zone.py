"""A fabricated published zone for the dashboards' tests, and a test that it is a faithful one.

The zone holds every measure of the real release plan, every key of every
breakdown, pooled and per-NGO cells, in the published schema; values are
made up (no DP involved), so tests can plant what they need: withheld cells,
hostile labels, two periods, thousands of NGOs. The dashboards read it through
the same ``pipelines.published.store`` as the real one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.hub.publish import _measures as plan_measures
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import load_plan
from pipelines.privacy.planner import accuracy_curves
from pipelines.privacy.postprocess import AWAITING_APPROVAL, NO_DENOMINATOR, TOO_NOISY
from pipelines.published.store import SCHEMA, TABLES, read_table, write_published

PERIODS = ("2025-Q2", "2025-Q3")
FAKE_HEAD = {
    "seq": 42,
    "hash": "0" * 64,
    "signed_at": "2025-12-01T00:00:00.000000+00:00",
    "reason": "publication",
    "signature": "ab" * 64,
    "public_key": "cd" * 32,
    "key_fingerprint": "0123456789abcdef",
}
"""A well-formed signed head (its signature verifies nothing: the site only shows it)."""


def _value(rng: np.random.Generator, unit: str, kind: str, ngo: bool) -> tuple[float, float]:
    """A plausible value and 95% half-width for a cell of this unit."""
    if kind == "ratio":
        if unit == "score points":
            return round(float(rng.uniform(-0.5, 1.5)), 4), 0.3
        if unit == "sessions per client":
            return round(float(rng.uniform(4, 15)), 4), 1.2
        return round(float(rng.uniform(0.3, 0.95)), 4), 0.05
    value = float(rng.integers(5, 200) if ngo else rng.integers(40, 4000))
    return value, float(np.ceil(5 + 0.08 * value))


GROUP_OUTCOMES = tuple(
    (f"{stem}_by_{dimension}", title, dimension, unit)
    for stem, title, unit in (
        ("mean_change", "Mean change in score", "score points"),
        ("share_improved", "Share of clients who improved", "share"),
        ("share_worse", "Share of clients whose score got worse", "share"),
    )
    for dimension in ("ethnicity", "age_band", "gender")
)
"""Pooled outcomes by group (the plan has them, by domain group too): id, title, breakdown, unit."""


def _group_outcome_measures() -> pd.DataFrame:
    rows = [
        {
            "measure": measure,
            "title": f"{title} by {dimension.replace('_', ' ')}",
            "question": "better_off",
            "kind": "ratio",
            "scope": "pooled",
            "dimensions": dimension,
            "target": None,
            "description": "fabricated",
            "headline": None,
        }
        for measure, title, dimension, _unit in GROUP_OUTCOMES
    ]
    rows.append(
        {
            "measure": "share_worse_overall",
            "title": "Share of clients whose score got worse",
            "question": "better_off",
            "kind": "ratio",
            "scope": "pooled",
            "dimensions": "",
            "target": None,
            "description": "fabricated",
            "headline": None,
        }
    )
    return pd.DataFrame(rows)


def fabricated_ngo_name(ngo_id: str) -> str:
    """A register name for a fabricated NGO (``ngo-0003`` -> ``Whānau Support Trust 0003``)."""
    return f"Whānau Support Trust {ngo_id.rsplit('-', 1)[-1]}"


def fabricated_tables(
    *,
    ngos: int = 4,
    periods: Sequence[str] = PERIODS,
    seed: int = 0,
    ngo_ids: Sequence[str] | None = None,
    group_outcomes: bool = False,
) -> dict[str, pd.DataFrame]:
    """Every published table for ``ngos`` NGOs and ``periods``, Māori-data cells awaiting approval.

    In the last period the second NGO is late and the third has not submitted (a status only:
    its cells are there all the same). ``group_outcomes`` adds the pooled outcomes by group."""
    plan = load_plan()
    rng = np.random.default_rng(seed)
    measures = plan_measures(plan)
    extra = _group_outcome_measures()
    if group_outcomes:  # the plan's own where it has them (by domain group too), else fabricated
        measures = pd.concat(
            [measures, extra[~extra["measure"].isin(measures["measure"])]], ignore_index=True
        )
    else:
        measures = measures[~measures["measure"].isin(extra["measure"])]
    accuracy = accuracy_curves(plan)
    units = dict(zip(accuracy["measure"], accuracy["unit"], strict=False))
    units.update({m: u for m, _t, _d, u in GROUP_OUTCOMES})
    units["share_worse_overall"] = "share"
    ids = list(ngo_ids) if ngo_ids is not None else [f"ngo-{i:04d}" for i in range(1, ngos + 1)]
    governed = {(d, v) for d, values in plan.governed.items() for v in values}
    cells: list[dict[str, object]] = []
    releases, spends, budgets, counts = [], [], [], []
    statuses: list[dict[str, object]] = []
    for period in periods:
        release_id = f"{period}-r1"
        for m in measures.to_dict("records"):
            dims = [d for d in str(m["dimensions"] or "").split(",") if d]
            keys = list(itertools.product(*(plan.key_sets[d] for d in dims)))
            owners: list[str | None] = [None] if m["scope"] == "pooled" else list(ids)
            unit = units.get(m["measure"], "clients")
            for ngo_id in owners:
                for combo in keys:
                    value, half = _value(rng, unit, str(m["kind"]), ngo_id is not None)
                    key = dict(zip(dims, combo, strict=True))
                    roll = rng.random()
                    if pd.notna(m["headline"]):
                        roll = 1.0  # headline cells are ok, so the pages' verdicts on them show
                    reason = None
                    if any((d, v) in governed for d, v in key.items()):
                        flag, reason = "withheld", AWAITING_APPROVAL
                    elif roll < 0.08:
                        flag = "withheld"
                        reason = NO_DENOMINATOR if m["kind"] == "ratio" else TOO_NOISY
                    elif roll < 0.25:
                        flag = "low"
                    else:
                        flag = "ok"
                    shown = flag != "withheld"
                    low, high = value - half, value + half
                    if unit != "score points":
                        low = max(low, 0.0)
                    if unit == "share":
                        high = min(high, 1.0)
                    cells.append(
                        {
                            "release_id": release_id,
                            "period": period,
                            "is_current": True,
                            "measure": m["measure"],
                            "title": m["title"],
                            "question": m["question"],
                            "kind": m["kind"],
                            "scope": m["scope"],
                            "ngo_id": ngo_id,
                            **{d: key.get(d) for d in plan.published_dimensions},
                            "value": value if shown else None,
                            "ci95_low": low if shown else None,
                            "ci95_high": high if shown else None,
                            "reliability": flag,
                            "withheld_reason": reason,
                            "rho": 0.01,
                        }
                    )
        releases.append(
            {
                "release_id": release_id,
                "period": period,
                "version": 1,
                "status": "current",
                "superseded_by": None,
                "released_at": datetime(2025, 12, 1, tzinfo=UTC),
                "plan_version": plan.version,
                "plan_digest": plan.digest,
                "ngos_charged": len(ids),
                "rho_max_per_ngo": 0.48,
                "rho_total": 0.48 * len(ids),
            }
        )
        for ngo_id in ids:
            spends.append(
                {"release_id": release_id, "period": period, "ngo_id": ngo_id, "rho": 0.48}
            )
            budgets.append(
                {
                    "period": period,
                    "ngo_id": ngo_id,
                    "budget_rho": 0.5,
                    "spent_rho": 0.48,
                    "left_rho": 0.02,
                    "budget_epsilon": epsilon_at(0.5, plan.delta),
                    "spent_epsilon": epsilon_at(0.48, plan.delta),
                    "delta": plan.delta,
                    "year_window": f"{periods[0]}..{period}",
                    "year_cap_rho": plan.annual_rho,
                    "year_spent_rho": 0.48 * (periods.index(period) + 1),
                    "year_left_rho": max(plan.annual_rho - 0.48 * (periods.index(period) + 1), 0),
                    "year_cap_epsilon": epsilon_at(plan.annual_rho, plan.delta),
                    "year_spent_epsilon": epsilon_at(
                        0.48 * (periods.index(period) + 1), plan.delta
                    ),
                }
            )
            place = ids.index(ngo_id) if period == periods[-1] else 0
            status = {1: "late", 2: "not submitted"}.get(place, "submitted")
            statuses.append(
                {
                    "period": period,
                    "ngo_id": ngo_id,
                    "status": status,
                    "first_received_on": None if status == "not submitted" else "2025-10-05",
                    "window_closes_on": "2025-11-01",
                }
            )
        for dataset in ("episodes", "assessments"):
            counts.append(
                {
                    "period": period,
                    "dataset": dataset,
                    "accepted": len(ids),
                    "superseded": 1,
                    "refused": 2,
                }
            )
    return {
        "publication": pd.DataFrame(
            [
                {
                    "published_at": datetime(2025, 12, 1, tzinfo=UTC),
                    "hub_version": "test",
                    "plan_version": plan.version,
                    "plan_digest": plan.digest,
                    "delta": plan.delta,
                    "default_rho": plan.default_rho,
                    "default_epsilon": epsilon_at(plan.default_rho, plan.delta),
                    "annual_rho": plan.annual_rho,
                    "annual_epsilon": 12.57,
                    "sessions_per_episode": plan.sessions_per_episode,
                    "episodes_per_client": plan.episodes_per_client,
                    "window_days": plan.window_days,
                    **{f"audit_{k}": v for k, v in FAKE_HEAD.items()},
                }
            ]
        ),
        "releases": pd.DataFrame(releases),
        "cells": pd.DataFrame(cells, columns=list(SCHEMA["cells"])),
        "spends": pd.DataFrame(spends),
        "budgets": pd.DataFrame(budgets),
        "measures": measures,
        "plan_accuracy": accuracy,
        "submission_counts": pd.DataFrame(counts),
        "approvals": pd.DataFrame(columns=list(SCHEMA["approvals"])),
        "audit_checkpoints": pd.DataFrame(
            [{**FAKE_HEAD, "seq": 40, "reason": "time"}, FAKE_HEAD],
            columns=list(SCHEMA["audit_checkpoints"]),
        ),
        "ngos": pd.DataFrame(
            [
                {
                    "ngo_id": n,
                    "name": fabricated_ngo_name(n),
                    "programmes": ",".join(plan.key_sets["programme"][i % 3 : i % 3 + 2]),
                    "regions": plan.key_sets["region"][i % 16],
                    "active": True,
                }
                for i, n in enumerate(ids)
            ],
            columns=list(SCHEMA["ngos"]),
        ),
        "submission_status": pd.DataFrame(statuses, columns=list(SCHEMA["submission_status"])),
    }


def fabricate_zone(path: Path, **kwargs: Any) -> Path:
    """Write a fabricated ``published.duckdb`` at ``path`` (see :func:`fabricated_tables`)."""
    write_published(path, fabricated_tables(**kwargs))
    return path


def test_fabricated_zone_has_every_published_table_and_measure(tmp_path: Path) -> None:
    """Tests that the fabricated zone holds every table, and cells for every measure of the plan."""
    path = fabricate_zone(tmp_path / "published.duckdb", ngos=2, periods=("2025-Q3",))
    for name in TABLES:
        assert set(read_table(path, name).columns) == set(SCHEMA[name])
    cells = read_table(path, "cells")
    measures = read_table(path, "measures")
    assert set(cells["measure"]) == set(measures["measure"])
    assert (cells.loc[cells["ethnicity"] == "maori", "withheld_reason"] == AWAITING_APPROVAL).all()
