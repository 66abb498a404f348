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
from pipelines.hub.rolling_year import year_balances
from pipelines.hub.vault import budgets as budget_table
from pipelines.hub.vault import register, releases, submissions
from pipelines.hub.vault.statuses import HELD, SubmissionStatus
from pipelines.privacy.mechanisms import epsilon_at
from pipelines.privacy.plan import ReleasePlan, Scale, parse_plan
from pipelines.privacy.planner import accuracy_curves
from pipelines.privacy.postprocess import cell_columns, publish_cells
from pipelines.published.export import write_exports
from pipelines.published.status import submission_statuses
from pipelines.published.store import ANCHOR_FIELDS, DIMENSIONS, SCHEMA, write_published

SUBMITTED_STATUSES = (
    SubmissionStatus.STAGED,
    SubmissionStatus.ACCEPTED,
    SubmissionStatus.SUPERSEDED,
    SubmissionStatus.PURGED,
)
"""A submission in one of these arrived and passed: the NGO did submit (refused ones did not)."""


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
        years = {y.ngo_id: y for y in year_balances(con, plan, period, ngos)}
        for ngo, budget in budgets(con, plan, period, ngos).items():
            used = float(spent.get((period, ngo), 0.0))
            year = years[ngo]
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
                    # per NGO, never summed across NGOs: each NGO's guarantee is its own
                    "year_window": year.window,
                    "year_cap_rho": year.cap,
                    "year_spent_rho": year.spent,
                    "year_left_rho": year.left,
                    "year_cap_epsilon": epsilon_at(year.cap, plan.delta),
                    "year_spent_epsilon": epsilon_at(year.spent, plan.delta),
                }
            )
    return pd.DataFrame(rows, columns=list(SCHEMA["budgets"]))


def _ngos(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The register's public facts: one row per registered NGO (no token, no contact)."""
    rows = [
        {
            "ngo_id": n.ngo_id,
            "name": n.name,
            "programmes": ",".join(n.programmes),
            "regions": ",".join(n.regions),
            "active": n.active,
        }
        for n in register.listing(con)
    ]
    return pd.DataFrame(rows, columns=list(SCHEMA["ngos"]))


def _submission_status(con: duckdb.DuckDBPyConnection, plan: ReleasePlan) -> pd.DataFrame:
    """Per period and NGO: submitted, late or not submitted; from when submissions arrived and
    their status only (never a row of what they hold)."""
    received = con.execute(
        "SELECT period, ngo_id, min(received_at) FROM submissions "
        "WHERE list_contains(?, status) GROUP BY 1, 2",
        [[str(s) for s in SUBMITTED_STATUSES]],
    ).fetchall()
    registered = {n.ngo_id for n in register.listing(con) if n.active}
    every = releases.every_release(con)
    first_released = every.groupby(every["period"].astype(str))["released_at"].min()
    return submission_statuses(
        [(str(p), str(n), r) for p, n, r in received],
        registered,
        set(first_released.index),
        plan.window_days,
        {str(p): at.to_pydatetime() for p, at in first_released.items()},
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
                "default_epsilon": epsilon_at(plan.default_rho, plan.delta),
                "annual_rho": plan.annual_rho,
                "annual_epsilon": epsilon_at(plan.annual_rho, plan.delta),
                "sessions_per_episode": plan.sessions_per_episode,
                "episodes_per_client": plan.episodes_per_client,
                "window_days": plan.window_days,
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
        "ngos": _ngos(con),
        "submission_status": _submission_status(con, plan),
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
