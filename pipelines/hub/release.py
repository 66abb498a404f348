"""Releases: computed once, paid for once, never lost to a crash.

A release of a period is a set of *parts*; each part is one noisy vector (a
base measure's cells, for the pool or for one NGO, and for one governance
component) with its own calibration and its own ledger rows. The order of
work makes the guarantees:

1. the budget check runs before any mechanism: a release that would exceed
   any NGO's budget is refused whole, saying what is left and what was asked;
2. the whole plan is dry-run on empty tables of the vault's schema, so a
   fault in bounding, aggregation, noise or post-processing shows before real
   data is touched;
3. exact aggregates are computed, noise is drawn (OpenDP), and the release,
   its parts, its cells, the ledger's spends and the audit entry are written
   in one transaction. Until it commits, nothing is spent and nothing exists;
   a crash before it leaves no trace; a crash after it leaves a complete
   release that the next run publishes.

Running again returns the stored release and spends nothing. A changed plan
needs ``supersede``, which spends again, and the ledger shows both.
"""

from __future__ import annotations

import math
import os
import signal
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import pandas as pd

from pipelines.hub import audit
from pipelines.hub.bounding import bound, exact_cells
from pipelines.hub.ledger import TOLERANCE, approvals_in_force, balances, budgets
from pipelines.hub.schema import row_columns
from pipelines.privacy.mechanisms import Calibration, add_noise, calibrate
from pipelines.privacy.plan import Measure, ReleasePlan
from pipelines.privacy.postprocess import publish_cells
from pipelines.standard.contract import load_contracts
from pipelines.standard.periods import Period


class ReleaseError(Exception):
    """A release that cannot go ahead; nothing was spent. The message says why and what to do."""


class NothingToRelease(ReleaseError):
    """The period has no accepted submissions."""


@dataclass(frozen=True)
class Part:
    """One noisy vector of a release and who pays for it."""

    part_id: str
    measure: Measure
    component: str
    ngo_id: str | None
    charged: tuple[str, ...]
    calibration: Calibration
    cells: int


@dataclass(frozen=True)
class ReleaseOutcome:
    release_id: str
    period: str
    status: str  # "new", "addendum" or "stored"
    charged: Mapping[str, float] = field(default_factory=dict)
    parts: int = 0
    pending_approval: tuple[str, ...] = ()


def crashpoint(name: str) -> None:
    """Test seam: ``OUTCOMES_CRASH_AT=<name>`` kills the process here, as a power cut would."""
    if os.environ.get("OUTCOMES_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def contributing_ngos(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, list[str]]:
    """NGOs with a current accepted submission of each dataset for the period."""
    rows = con.execute(
        "SELECT dataset, ngo_id FROM submissions WHERE status = 'accepted' AND period = ? "
        "ORDER BY dataset, ngo_id",
        [period],
    ).fetchall()
    found: dict[str, list[str]] = {"episodes": [], "assessments": []}
    for dataset, ngo in rows:
        found[dataset].append(ngo)
    # Assessments count only on accepted episodes: an NGO without them contributes nothing there.
    found["assessments"] = [n for n in found["assessments"] if n in set(found["episodes"])]
    return found


def current_release(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, object] | None:
    row = con.execute(
        "SELECT release_id, version, plan_digest, created_at FROM releases "
        "WHERE period = ? AND status = 'current'",
        [period],
    ).fetchone()
    if not row:
        return None
    return {"release_id": row[0], "version": row[1], "plan_digest": row[2], "created_at": row[3]}


def plan_parts(
    plan: ReleasePlan,
    contributing: Mapping[str, list[str]],
    budget: Mapping[str, float],
    approved: frozenset[tuple[str, str]],
    done: frozenset[str] = frozenset(),
) -> tuple[list[Part], list[str]]:
    """The parts to compute now, and the governed parts still waiting for approval."""
    parts: list[Part] = []
    pending: list[str] = []
    for measure in plan.measures:
        ngos = contributing.get(measure.statistic.dataset, [])
        if not ngos:
            continue
        sensitivity = plan.sensitivity(measure)
        for component in plan.components(measure):
            if component.startswith("governed:"):
                dim, value = component.removeprefix("governed:").split("=", 1)
                if (dim, value) not in approved:
                    pending.append(f"{measure.id}:{component}")
                    continue
            share = plan.share(measure)
            if measure.scope == "pooled":
                part_id = f"{measure.id}:{component}:pooled"
                if part_id not in done:
                    rho = share * min(budget[n] for n in ngos)
                    parts.append(
                        Part(
                            part_id,
                            measure,
                            component,
                            None,
                            tuple(ngos),
                            calibrate(sensitivity.l2, rho),
                            plan.cells(measure),
                        )
                    )
                continue
            for ngo in ngos:
                part_id = f"{measure.id}:{component}:{ngo}"
                if part_id not in done:
                    parts.append(
                        Part(
                            part_id,
                            measure,
                            component,
                            ngo,
                            (ngo,),
                            calibrate(sensitivity.l2, share * budget[ngo]),
                            plan.cells(measure),
                        )
                    )
    return parts, pending


def charges(parts: list[Part]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for part in parts:
        for ngo in part.charged:
            total[ngo] += part.calibration.rho
    return dict(total)


def check_budget(
    con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str, parts: list[Part]
) -> None:
    """Refuse, before any mechanism runs, a release that would take any NGO over its budget."""
    asked = charges(parts)
    short = [
        b
        for b in balances(con, plan, period, asked)
        if b.spent + asked[b.ngo_id] > b.budget * (1 + TOLERANCE)
    ]
    if not short:
        return
    lines = [
        f"  {b.ngo_id}: budget rho {b.budget:.4g}, already spent {b.spent:.4g}, left {b.left:.4g}, "
        f"this release asks {asked[b.ngo_id]:.4g}"
        for b in short[:10]
    ]
    more = f"\n  … and {len(short) - 10} more" if len(short) > 10 else ""
    raise ReleaseError(
        f"The release of {period} is refused and nothing was spent: {len(short)} NGO(s) lack the budget.\n"
        + "\n".join(lines)
        + more
        + f"\nRaise their budgets with `outcomes budget set --ngo ID --period {period} --rho R` "
        "(or --default), or lower the plan's weights."
    )


def allotment(
    con: duckdb.DuckDBPyConnection,
    period: str,
    budget: Mapping[str, float],
    release_id: str | None,
) -> dict[str, float]:
    """What a release (and its addenda) is calibrated on: each NGO's budget less what the
    period's *other* releases spent. The first release of a period gets the whole budget; a
    superseding one gets what is left, so raising a budget by R lets a new release spend R.
    Refused, before any mechanism, when an NGO has nothing left."""
    used = dict(
        con.execute(
            "SELECT ngo_id, sum(rho) FROM spends WHERE period = ? AND release_id <> ? "
            "GROUP BY ngo_id",
            [period, release_id or ""],
        ).fetchall()
    )
    left = {n: b - float(used.get(n, 0.0)) for n, b in budget.items()}
    empty = sorted(n for n, v in left.items() if v <= budget[n] * TOLERANCE)
    if empty:
        lines = [
            f"  {n}: budget rho {budget[n]:.4g}, already spent {float(used.get(n, 0.0)):.4g}, "
            "left 0, this release asks for budget beyond that (it spends what is left)"
            for n in empty[:10]
        ]
        more = f"\n  … and {len(empty) - 10} more" if len(empty) > 10 else ""
        raise ReleaseError(
            f"The release of {period} is refused and nothing was spent: {len(empty)} NGO(s) "
            f"have spent their whole budget for {period} on earlier releases.\n"
            + "\n".join(lines)
            + more
            + f"\nRaise their budgets by what the new release may spend with "
            f"`outcomes budget set --ngo ID --period {period} --rho R` (or --default)."
        )
    return left


def check_supersede_budget(
    con: duckdb.DuckDBPyConnection,
    period: str,
    previous: str,
    budget: Mapping[str, float],
    base: Mapping[str, float],
) -> None:
    """Refuse a superseding release that would be noisier than the one it replaces.

    A new release is calibrated on what the period's earlier releases left; if
    that is less than the previous release was calibrated on, its numbers would
    be less accurate (and it would take the share kept for cells awaiting
    governance approval). The steward raises the budget first.
    """
    entitled = {
        n: float(r)
        for n, r in con.execute(
            "SELECT ngo_id, rho FROM release_allotments WHERE release_id = ?", [previous]
        ).fetchall()
    }
    short = {
        n: entitled[n] - base[n]
        for n in base
        if n in entitled and base[n] < entitled[n] * (1 - TOLERANCE)
    }
    if not short:
        return
    needed = {n: budget[n] + gap for n, gap in short.items()}
    example = max(needed, key=needed.__getitem__)
    raise ReleaseError(
        f"Superseding {previous} is refused and nothing was spent: {len(short)} NGO(s) have less budget "
        f"left for {period} than {previous} was calibrated on, so the new release would be noisier than "
        f"the one it replaces. For example {example}: left {base[example]:.4g}, {previous} was "
        f"calibrated on {entitled[example]:.4g}. Raise budgets by at least that much, e.g. "
        f"`outcomes budget set --default --period {period} --rho {_round_up(max(needed.values()))}` "
        "(and any NGO with its own budget likewise), then supersede."
    )


def _round_up(rho: float) -> str:
    return f"{math.ceil(rho * 1000) / 1000:g}"


def _components(frame: pd.DataFrame, plan: ReleasePlan, measure: Measure) -> pd.Series:
    """Each cell's release component: ``all``, ``open`` or ``governed:<dimension>=<value>``."""
    labels = pd.Series("all" if plan.components(measure) == ("all",) else "open", index=frame.index)
    for dim in plan.governed_dimensions(measure):
        for value in plan.governed[dim]:
            labels = labels.mask(frame[dim] == value, f"governed:{dim}={value}")
    return labels


def compute(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    parts: list[Part],
    contributing: Mapping[str, list[str]],
) -> pd.DataFrame:
    """Bound, aggregate exactly and add noise: the noisy cells of every part (held in memory only).

    Vectorised per measure: each cell is tagged with its part, and cells whose
    parts share a noise scale are noised in one OpenDP call (independent noise
    per cell either way), so ten thousand per-NGO parts cost no more than a few.
    """
    bound(con, plan, period)
    by_measure: dict[str, list[Part]] = defaultdict(list)
    for part in parts:
        by_measure[part.measure.id].append(part)
    frames = []
    for measure_parts in by_measure.values():
        measure = measure_parts[0].measure
        ngos = contributing[measure.statistic.dataset] if measure.scope == "ngo" else None
        exact = exact_cells(con, plan, measure, ngos)
        if ngos is None:
            exact.insert(0, "ngo_id", None)
        owner = exact["ngo_id"].astype(object).where(exact["ngo_id"].notna(), "pooled").astype(str)
        part_ids = measure.id + ":" + _components(exact, plan, measure) + ":" + owner
        wanted = {p.part_id: p for p in measure_parts}
        keep = part_ids.isin(wanted).to_numpy()
        exact, part_ids = exact[keep], part_ids[keep]
        frames.append(
            exact.assign(
                part_id=part_ids.to_numpy(),
                measure=measure.id,
                noise_scale=part_ids.map(
                    {k: p.calibration.scale for k, p in wanted.items()}
                ).to_numpy(float),
                rho=part_ids.map({k: p.calibration.rho for k, p in wanted.items()}).to_numpy(float),
            )
        )
    cells = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["ngo_id", "value", "part_id", "measure", "noise_scale", "rho"])
    )
    raw = np.zeros(len(cells), dtype=np.int64)
    values = cells["value"].to_numpy(dtype=np.int64)
    groups = list(cells.groupby("noise_scale", sort=False).indices.items())
    # OpenDP's sampler runs in Rust without the GIL: two threads use both cores.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="noise") as pool:
        draws = pool.map(
            lambda group: add_noise(values[group[1]].tolist(), float(group[0])), groups
        )
        for (_scale, rows), noisy in zip(groups, draws, strict=True):
            raw[rows] = noisy
    cells = cells.drop(columns=["value"]).assign(raw_value=raw)
    for dim in plan.published_dimensions:
        if dim not in cells.columns:
            cells[dim] = None
    return cells


DRY_RUN_NGOS = 3


def dry_run(
    plan: ReleasePlan,
    period: str,
    parts: list[Part],
    contributing: Mapping[str, list[str]],
    approved: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    """Run the whole plan on empty tables of the vault's schema; raise :class:`ReleaseError` on any fault.

    Publication is dry-run with the approvals in force, as the real one will be: an addendum
    holds only Māori-data cells, which would all be hidden without them. Every part kind runs,
    but per-NGO parts only for a few NGOs: the dry run proves the code paths, not the scale.
    """
    sample = {dataset: ngos[:DRY_RUN_NGOS] for dataset, ngos in contributing.items()}
    kept = {n for ngos in sample.values() for n in ngos}
    parts = [p for p in parts if p.ngo_id is None or p.ngo_id in kept]
    contributing = sample
    try:
        with duckdb.connect(":memory:") as empty:
            for dataset, contract in load_contracts().items():
                columns = ", ".join(f'"{n}" {t}' for n, t in row_columns(contract))
                empty.execute(f"CREATE TABLE current_{dataset} ({columns})")
            cells = compute(empty, plan, period, parts, contributing)
            publish_cells(cells, plan, ngos_by_measure(parts, contributing), approved)
    except Exception as exc:
        raise ReleaseError(
            f"The release of {period} stopped in its dry run on empty data, before touching the vault; "
            f"nothing was spent. Fault: {type(exc).__name__}: {exc}"
        ) from None


def ngos_by_measure(
    parts: list[Part], contributing: Mapping[str, list[str]]
) -> dict[str, list[str] | None]:
    found: dict[str, list[str] | None] = {}
    for part in parts:
        m = part.measure
        found[m.id] = contributing[m.statistic.dataset] if m.scope == "ngo" else None
    return found


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_rows", frame)
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _rows")
    con.unregister("_rows")


def _commit(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    *,
    period: str,
    release_id: str,
    status: str,
    parts: list[Part],
    cells: pd.DataFrame,
    actor: str,
    plan_text: str,
    version: int,
    previous: str | None,
    allotted: Mapping[str, float],
) -> None:
    now = datetime.now(UTC)
    per_part = cells["part_id"].value_counts()
    part_rows = pd.DataFrame(
        [
            {
                "release_id": release_id,
                "part_id": p.part_id,
                "measure": p.measure.id,
                "component": p.component,
                "scope": p.measure.scope,
                "ngo_id": p.ngo_id,
                "rho": p.calibration.rho,
                "l2_sensitivity": p.calibration.l2_sensitivity,
                "noise_scale": p.calibration.scale,
                "cells": int(per_part.get(p.part_id, 0)),
                "computed_at": now,
            }
            for p in parts
        ]
    )
    spend_rows = pd.DataFrame(
        [
            {
                "release_id": release_id,
                "part_id": p.part_id,
                "ngo_id": n,
                "period": period,
                "rho": p.calibration.rho,
                "spent_at": now,
            }
            for p in parts
            for n in p.charged
        ]
    )
    dims = list(plan.published_dimensions)
    cell_rows = cells[
        ["part_id", "measure", "ngo_id", *dims, "raw_value", "noise_scale", "rho"]
    ].assign(release_id=release_id)
    con.execute("BEGIN")
    if status == "new":
        if previous:
            con.execute(
                "UPDATE releases SET status = 'superseded', superseded_by = ? WHERE release_id = ?",
                [release_id, previous],
            )
        con.execute(
            "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'current', NULL, NULL)",
            [release_id, period, version, plan.version, plan.digest, plan_text, now, actor],
        )
        _insert(
            con,
            "release_allotments",
            pd.DataFrame(
                {"release_id": release_id, "ngo_id": list(allotted), "rho": list(allotted.values())}
            ),
        )
        con.execute(
            "INSERT INTO release_inputs SELECT ?, submission_id FROM submissions "
            "WHERE period = ? AND status = 'accepted'",
            [release_id, period],
        )
    _insert(con, "release_parts", part_rows)
    _insert(con, "spends", spend_rows)
    _insert(con, "release_cells", cell_rows)
    asked = charges(parts)
    audit.record(
        con,
        [
            audit.Event(
                actor,
                "release" if status == "new" else "release_addendum",
                release_id,
                {
                    "period": period,
                    "plan_digest": plan.digest,
                    "parts": len(parts),
                    "ngos_charged": len(asked),
                    "max_rho_charged": round(max(asked.values(), default=0.0), 12),
                    "supersedes": previous,
                },
            )
        ],
    )
    con.execute("COMMIT")


def releasable_periods(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, today: date) -> list[str]:
    """Periods to release today: those whose submission window has closed and that have accepted
    submissions but no current release, and those whose release waits for cells that the
    governance group has approved since."""
    planned = {c for m in plan.measures for c in plan.components(m)}
    periods = [
        p
        for (p,) in con.execute(
            "SELECT DISTINCT period FROM submissions WHERE status = 'accepted' ORDER BY 1"
        ).fetchall()
    ]
    released = dict(
        con.execute("SELECT period, release_id FROM releases WHERE status = 'current'").fetchall()
    )
    waiting = set()
    for period, release_id in released.items():
        approved = {f"governed:{d}={v}" for d, v in approvals_in_force(con, period)}
        done = {
            c
            for (c,) in con.execute(
                "SELECT DISTINCT component FROM release_parts WHERE release_id = ?", [release_id]
            ).fetchall()
        }
        if (approved & planned) - done:
            waiting.add(period)
    return [
        p
        for p in periods
        if (p not in released or p in waiting)
        and Period.parse(p).window_closes(plan.window_days) <= today
    ]


def late_submissions(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Accepted submissions the period's current release did not use (they arrived after it)."""
    row = con.execute(
        "SELECT count(*) FROM submissions s WHERE s.period = ? AND s.status = 'accepted' AND s.submission_id "
        "NOT IN (SELECT i.submission_id FROM release_inputs i JOIN releases r USING (release_id) "
        "WHERE r.period = ? AND r.status = 'current')",
        [period, period],
    ).fetchone()
    return int(row[0]) if row else 0


def release_period(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    plan_text: str,
    period: str,
    *,
    supersede: bool = False,
    actor: str = "hub release",
) -> ReleaseOutcome:
    """Release ``period`` (or return the stored release), spending each NGO's budget at most once."""
    contributing = contributing_ngos(con, period)
    if not contributing["episodes"]:
        raise NothingToRelease(f"Nothing to release for {period}: no accepted submissions.")
    approved = approvals_in_force(con, period)
    all_ngos = sorted(set(contributing["episodes"]) | set(contributing["assessments"]))
    budget = budgets(con, plan, period, all_ngos)
    current = current_release(con, period)
    previous: str | None = None
    if current and not supersede:
        if current["plan_digest"] != plan.digest:
            raise ReleaseError(
                f"{period} was released as {current['release_id']} with another version of the release plan. "
                "To release it again with the current plan, which spends budget again, "
                "run: outcomes release --period " + period + " --supersede"
            )
        release_id = str(current["release_id"])
        done = frozenset(
            p
            for (p,) in con.execute(
                "SELECT part_id FROM release_parts WHERE release_id = ?", [release_id]
            ).fetchall()
        )
        base = allotment(con, period, budget, release_id)
        parts, pending = plan_parts(plan, contributing, base, approved, done)
        parts = [p for p in parts if p.component.startswith("governed:")]
        if not parts:
            return ReleaseOutcome(release_id, period, "stored", pending_approval=tuple(pending))
        status, version = "addendum", int(str(current["version"]))
    else:
        row = con.execute(
            "SELECT coalesce(max(version), 0) FROM releases WHERE period = ?", [period]
        ).fetchone()
        version = int(row[0] if row else 0) + 1
        release_id = f"{period}-r{version}"
        previous = str(current["release_id"]) if current else None
        base = allotment(con, period, budget, None)
        if previous:
            check_supersede_budget(con, period, previous, budget, base)
        parts, pending = plan_parts(plan, contributing, base, approved)
        status = "new"
    check_budget(con, plan, period, parts)
    dry_run(plan, period, parts, contributing, approved)
    cells = compute(con, plan, period, parts, contributing)
    crashpoint("after-noise")
    _commit(
        con,
        plan,
        period=period,
        release_id=release_id,
        status=status,
        parts=parts,
        cells=cells,
        actor=actor,
        plan_text=plan_text,
        version=version,
        previous=previous,
        allotted=base,
    )
    crashpoint("after-commit")
    return ReleaseOutcome(release_id, period, status, charges(parts), len(parts), tuple(pending))
