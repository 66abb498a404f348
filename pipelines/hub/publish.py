"""Publish: rebuild the published zone from the ledger's stored releases.

Publication is post-processing of stored noisy cells, so it spends nothing
and gives the same cells every time (governance decisions aside: a cell of a
Māori-data value shows only while approval is in force). It is rebuilt whole
in one transaction; if a crash stops it, the next run rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from pipelines import __version__
from pipelines.home import Home
from pipelines.hub import checkpoints
from pipelines.hub.crash import crashpoint
from pipelines.hub.ledger import approvals_in_force, budgets
from pipelines.hub.vault import budgets as budget_table
from pipelines.hub.vault import releases, submissions
from pipelines.hub.vault.statuses import HELD
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import ReleasePlan, Scale, parse_plan
from pipelines.privacy.planner import accuracy_curves
from pipelines.privacy.postprocess import cell_columns, publish_cells
from pipelines.published.export import write_exports
from pipelines.published.store import ANCHOR_FIELDS, DIMENSIONS, write_published


@dataclass(frozen=True)
class Publication:
    releases: int
    cells: int
    path: Path


def _release_cells(con: duckdb.DuckDBPyConnection, release: dict[str, object]) -> pd.DataFrame:
    rid = str(release["release_id"])
    plan = parse_plan(yaml.safe_load(str(release["plan_text"])))
    raw = releases.cells(con, rid)
    parts = releases.part_owners(con, rid)
    ngos: dict[str, list[str] | None] = {}
    for measure, group in parts.groupby("measure"):
        scope = group["scope"].iloc[0]
        ngos[str(measure)] = (
            None if scope == "pooled" else sorted(group["ngo_id"].dropna().unique().tolist())
        )
    approved = approvals_in_force(con, str(release["period"]))
    cells = publish_cells(raw, plan, ngos, approved)
    cells.insert(0, "release_id", rid)
    cells.insert(1, "period", release["period"])
    cells.insert(2, "is_current", release["status"] == "current")
    return cells


def _budgets(con: duckdb.DuckDBPyConnection, plan: ReleasePlan) -> pd.DataFrame:
    rows = []
    pairs = sorted(set(submissions.ngo_periods(con, HELD)) | set(releases.spend_pairs(con)))
    spent = {
        (r.period, r.ngo_id): float(r.rho) for r in releases.spent_by_ngo_period(con).itertuples()
    }
    by_period: dict[str, list[str]] = {}
    for period, ngo in pairs:
        by_period.setdefault(period, []).append(ngo)
    for period, ngos in by_period.items():
        for ngo, budget in budgets(con, plan, period, ngos).items():
            used = float(spent.get((period, ngo), 0.0))
            rows.append(
                {
                    "period": period,
                    "ngo_id": ngo,
                    "budget_rho": budget,
                    "spent_rho": used,
                    "left_rho": max(budget - used, 0.0),
                    "budget_epsilon": epsilon_at(budget, plan.delta),
                    "spent_epsilon": epsilon_at(used, plan.delta),
                    "delta": plan.delta,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "period",
            "ngo_id",
            "budget_rho",
            "spent_rho",
            "left_rho",
            "budget_epsilon",
            "spent_epsilon",
            "delta",
        ],
    )


def _rule(plan: ReleasePlan, scale: Scale) -> dict[str, object]:
    """A measure's scale and the reliability rule its cells are flagged by."""
    rule = plan.reliability[scale]
    return {
        "scale": scale,
        "rule": plan.rule_text(scale),
        "low_above": rule.low_above,
        "withhold_above": rule.withhold_above,
    }


def _measures(plan: ReleasePlan) -> pd.DataFrame:
    rows: list[dict[str, object]] = [
        {
            "measure": m.id,
            "title": m.title,
            "question": m.question,
            "kind": "sum" if m.statistic.kind == "sum" else "count",
            "scope": m.scope,
            "dimensions": ",".join(m.by),
            "target": None,
            "description": m.statistic.description,
            "headline": plan.headline_rank(m.id),
            **_rule(plan, plan.scale_of(m.id)),
        }
        for m in plan.measures
    ]
    for d in plan.derived:
        base = plan.base_of(d.inputs[0])
        rows.append(
            {
                "measure": d.id,
                "title": d.title,
                "question": d.question,
                "kind": "ratio" if d.kind == "ratio" else "sum",
                "scope": base.scope,
                "dimensions": ",".join(
                    plan.dimensions_of(d.inputs[0])
                    if d.kind == "ratio"
                    else plan.dimensions_of(d.id)
                ),
                "target": d.target,
                "headline": plan.headline_rank(d.id),
                **_rule(plan, d.scale),
                "description": (
                    f"{d.inputs[0]} divided by {d.inputs[1]}"
                    if d.kind == "ratio"
                    else f"{d.inputs[0]} summed over {d.over}"
                ),
            }
        )
    return pd.DataFrame(rows)


def publish(home: Home, con: duckdb.DuckDBPyConnection, plan: ReleasePlan) -> Publication:
    """Rebuild ``published.duckdb`` and the exports from the ledger; return what was published."""
    stored = releases.every_release(con)
    cell_frames = [_release_cells(con, r) for r in stored.to_dict("records")]
    cells = (
        pd.concat(cell_frames, ignore_index=True)
        if cell_frames
        else pd.DataFrame(columns=["release_id", "period", "is_current", *cell_columns(plan)])
    )
    # A release made under an earlier plan may lack a dimension added since: empty there.
    cells = cells.reindex(
        columns=[*cells.columns, *(d for d in DIMENSIONS if d not in cells.columns)]
    )
    spends = releases.spent_by_release(con)
    summary = (
        spends.groupby("release_id")
        .agg(
            ngos_charged=("ngo_id", "nunique"),
            rho_max_per_ngo=("rho", "max"),
            rho_total=("rho", "sum"),
        )
        .reset_index()
    )
    published_releases = stored.drop(columns=["plan_text"]).merge(
        summary, on="release_id", how="left"
    )
    # The audit log's head, signed (see pipelines.hub.checkpoints): an anchor outsiders can hold.
    head = checkpoints.publication_head(con)
    signed = head.as_record() if head else {}
    publication = pd.DataFrame(
        [
            {
                "published_at": datetime.now(UTC),
                "hub_version": __version__,
                "plan_version": plan.version,
                "plan_digest": plan.digest,
                "delta": plan.delta,
                "default_rho": plan.default_rho,
                "annual_rho": plan.annual_rho,
                "annual_epsilon": epsilon_at(plan.annual_rho, plan.delta),
                **{f"audit_{k}": signed.get(k) for k in ANCHOR_FIELDS},
            }
        ]
    )
    tables = {
        "publication": publication,
        "releases": published_releases,
        "cells": cells,
        "spends": spends,
        "budgets": _budgets(con, plan),
        "measures": _measures(plan),
        "plan_accuracy": accuracy_curves(plan),
        "submission_counts": submissions.counts_by_period(con),
        "approvals": budget_table.latest_decisions(con),
        "audit_checkpoints": checkpoints.frame(con),
    }
    crashpoint("before-publish")
    write_published(home.published_db, tables)
    crashpoint("after-publish")
    write_exports(home.published_db, home.exports)
    return Publication(
        len(published_releases),
        int(cells["is_current"].sum()) if len(cells) else 0,
        home.published_db,
    )
