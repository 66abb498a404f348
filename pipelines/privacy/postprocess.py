"""From stored noisy cells to published cells: values, 95% intervals, reliability, reasons.

Everything here is post-processing of differentially private outputs, so it
spends nothing and can be re-run at will: publishing the same release twice
gives the same cells. Governance is applied here too, at publication time: a
cell of a Māori-data value is shown only while the governance group's
approval is in force; otherwise it is withheld with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from pipelines.privacy.intervals import Estimate, Noisy, fieller
from pipelines.privacy.mechanisms import Z_95, halfwidth_95
from pipelines.privacy.plan import Derived, Measure, ReleasePlan, key_frame

AWAITING_APPROVAL = "awaiting approval from the Māori data governance group"
TOO_NOISY = "too uncertain to publish: the 95% interval is wider than the reliability limit"
NO_DENOMINATOR = "too uncertain to publish: the number it is a share of may be zero"
PART_WITHHELD = "too uncertain to publish: a number it is computed from is withheld"
FLAG_ORDER = {"ok": 0, "low": 1, "withheld": 2}
"""A ratio's flag is the worst of its own and its parts' (ok < low < withheld)."""

CELL_COLUMNS = ("value", "ci95_low", "ci95_high", "reliability", "withheld_reason", "rho")


def cell_columns(plan: ReleasePlan) -> list[str]:
    """The columns of a published cell, in order: what it measures, its keys, its value."""
    return [
        "measure",
        "title",
        "question",
        "kind",
        "scope",
        "ngo_id",
        *plan.published_dimensions,
        *CELL_COLUMNS,
    ]


def _keys(plan: ReleasePlan, by: Iterable[str]) -> list[str]:
    return ["ngo_id", *by]


def _text_keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Key columns as plain text or None, so frames from anywhere join alike."""
    out = frame.copy()
    for key in keys:
        column = out[key].astype(object)
        out[key] = column.where(column.notna(), None).map(lambda v: v if v is None else str(v))
    return out


def _estimate_counts(frame: pd.DataFrame, exact: bool, signed: bool = False) -> pd.DataFrame:
    """Vectorised :func:`count_estimate` over ``raw_value``/``noise_scale`` columns.

    A ``signed`` statistic (a total change) can truly be negative: it is not clamped at zero.
    """
    v = frame["raw_value"].to_numpy(dtype=float)
    s = frame["noise_scale"].to_numpy(dtype=float)
    if exact:
        h = np.array([halfwidth_95(x) for x in s]) if len(s) else np.zeros(0)
    else:
        h = np.ceil(Z_95 * s)
    floor = -np.inf if signed else 0.0
    out = frame.copy()
    out["value"] = np.maximum(v, floor)
    out["ci95_low"] = np.maximum(np.floor(v - h), floor)
    out["ci95_high"] = np.maximum(np.ceil(v + h), floor)
    out["_hw"] = h
    return out


def _flag_counts(frame: pd.DataFrame, plan: ReleasePlan) -> pd.DataFrame:
    rel = frame["_hw"] / np.maximum(frame["value"].abs(), 1.0)
    frame["reliability"] = [plan.counts_reliability.flag(r) for r in rel]
    frame["withheld_reason"] = [
        TOO_NOISY if r == "withheld" else None for r in frame["reliability"]
    ]
    return frame


def base_cells(
    raw: pd.DataFrame,
    plan: ReleasePlan,
    measure: Measure,
    ngos: list[str] | None,
    approved: frozenset[tuple[str, str]],
) -> pd.DataFrame:
    """Published cells of one base measure, governed placeholders included.

    A cell of a Māori-data value is hidden unless it was computed and the
    governance group's approval is in force now; a hidden cell that was never
    computed spent nothing (rho 0). A per-NGO cell that was not computed and is
    not waiting for approval lies outside the NGO's registered programmes or
    regions (its public key set when released): it is not published at all.
    """
    keys = _keys(plan, measure.by)
    frame = key_frame(plan, measure, ngos)
    if ngos is None:
        frame.insert(0, "ngo_id", None)
    frame = _text_keys(frame, keys).merge(
        _text_keys(raw[[*keys, "raw_value", "noise_scale", "rho"]], keys), on=keys, how="left"
    )
    blocked = pd.Series(False, index=frame.index)
    for dim in plan.governed_dimensions(measure):
        not_approved = [v for v in plan.governed[dim] if (dim, v) not in approved]
        blocked |= frame[dim].isin(not_approved)
    if ngos is not None:
        outside = frame["raw_value"].isna() & ~blocked
        frame, blocked = frame[~outside].reset_index(drop=True), blocked[~outside]
        blocked = blocked.reset_index(drop=True)
    hidden = blocked | frame["raw_value"].isna()
    estimated = _estimate_counts(frame[~hidden], exact=True, signed=measure.statistic.signed)
    resolution = measure.statistic.resolution
    if resolution != 1:
        # Counted in 1/resolution units (whole numbers for the noise); published in whole units.
        for col in ("value", "ci95_low", "ci95_high", "_hw"):
            estimated[col] = estimated[col] / resolution
        frame["raw_value"] = frame["raw_value"] / resolution
        frame["noise_scale"] = frame["noise_scale"] / resolution
    shown = _flag_counts(estimated, plan)
    out = frame.copy()
    for col in ("value", "ci95_low", "ci95_high", "_hw", "reliability", "withheld_reason"):
        out[col] = shown[col]
    out.loc[hidden, "reliability"] = "withheld"
    out.loc[hidden, "withheld_reason"] = AWAITING_APPROVAL
    out.loc[frame["raw_value"].isna(), "rho"] = 0.0
    out["_governance"] = hidden
    return out


def rollup_cells(
    source: pd.DataFrame, plan: ReleasePlan, dims: list[str], over: str, signed: bool = False
) -> pd.DataFrame:
    """Sums of released cells over one dimension (post-processing): values and variances add."""
    keys = _keys(plan, [d for d in dims if d != over])
    work = source.assign(_var=source["noise_scale"] ** 2)
    grouped = work.groupby(keys, dropna=False, sort=False).agg(
        raw_value=("raw_value", "sum"),
        _var=("_var", "sum"),
        rho=("rho", "max"),
        _governance=("_governance", "any"),
    )
    grouped = _text_keys(grouped.reset_index(), keys)
    grouped["noise_scale"] = np.sqrt(grouped["_var"])
    out = _flag_counts(_estimate_counts(grouped, exact=False, signed=signed), plan)
    blocked = out["_governance"]
    out.loc[blocked, ["value", "ci95_low", "ci95_high"]] = np.nan
    out.loc[blocked, "reliability"] = "withheld"
    out.loc[blocked, "withheld_reason"] = AWAITING_APPROVAL
    return out


def ratio_cells(
    num: pd.DataFrame, den: pd.DataFrame, plan: ReleasePlan, derived: Derived, by: list[str]
) -> pd.DataFrame:
    """A ratio of two released measures with its Fieller interval (post-processing)."""
    keys = _keys(plan, by)
    cols = [*keys, "raw_value", "noise_scale", "rho", "_governance", "reliability"]
    joined = _text_keys(num[cols], keys).merge(
        _text_keys(den[cols], keys), on=keys, suffixes=("_n", "_d")
    )
    low, high = plan.ratio_range(derived)
    # A signed total (a sum of changes) near zero has no relative precision of its own: the
    # mean's own rule, whose interval carries the total's noise, judges it (decision 017).
    numerator_counts = not plan.base_of(derived.inputs[0]).statistic.signed
    estimates: list[Estimate] = [
        fieller(Noisy(n, sn), Noisy(d, sd), low, high)
        for n, sn, d, sd in zip(
            joined["raw_value_n"],
            joined["noise_scale_n"],
            joined["raw_value_d"],
            joined["noise_scale_d"],
            strict=True,
        )
    ]
    out = joined[keys].copy()
    out["value"] = [e.value for e in estimates]
    out["ci95_low"] = [e.low for e in estimates]
    out["ci95_high"] = [e.high for e in estimates]
    out["rho"] = joined["rho_n"].fillna(0) + joined["rho_d"].fillna(0)
    reliability: list[str] = []
    reasons: list[str | None] = []
    for e, governed, part_n, part_d in zip(
        estimates,
        joined["_governance_n"] | joined["_governance_d"],
        joined["reliability_n"],
        joined["reliability_d"],
        strict=True,
    ):
        if governed:
            reliability.append("withheld")
            reasons.append(AWAITING_APPROVAL)
            continue
        own = plan.judge_ratio(derived.scale, e.value, e.halfwidth)
        parts = [str(part_d), str(part_n)] if numerator_counts else [str(part_d)]
        worst = max(parts, key=lambda f: FLAG_ORDER.get(f, 2))
        flag = max(own, worst, key=lambda f: FLAG_ORDER.get(f, 2))
        reliability.append(flag)
        if flag != "withheld":
            reasons.append(None)
        elif own == "withheld":
            reasons.append(NO_DENOMINATOR if e.value is None else TOO_NOISY)
        else:
            reasons.append(PART_WITHHELD)
    out["reliability"] = reliability
    out["withheld_reason"] = reasons
    out["raw_value"] = joined["raw_value_n"]
    out["noise_scale"] = joined["noise_scale_n"]
    out["_governance"] = joined["_governance_n"] | joined["_governance_d"]
    return out


def _finish(
    frame: pd.DataFrame,
    plan: ReleasePlan,
    *,
    measure_id: str,
    title: str,
    question: str,
    kind: str,
    scope: str,
) -> pd.DataFrame:
    out = frame.copy()
    withheld = out["reliability"] == "withheld"
    out.loc[withheld, ["value", "ci95_low", "ci95_high"]] = np.nan
    if kind == "ratio":
        out["value"] = out["value"].astype(float).round(4)
        out["ci95_low"] = np.floor(out["ci95_low"].astype(float) * 1e4) / 1e4
        out["ci95_high"] = np.ceil(out["ci95_high"].astype(float) * 1e4) / 1e4
    out["measure"], out["title"], out["question"], out["kind"], out["scope"] = (
        measure_id,
        title,
        question,
        kind,
        scope,
    )
    for dim in plan.published_dimensions:
        if dim not in out.columns:
            out[dim] = None
    return out[cell_columns(plan)]


def publish_cells(
    raw: pd.DataFrame,
    plan: ReleasePlan,
    ngos_by_measure: dict[str, list[str] | None],
    approved: frozenset[tuple[str, str]],
) -> pd.DataFrame:
    """Every published cell of a release: base measures, rollups and ratios.

    ``raw`` holds the stored noisy cells (measure, ngo_id, dimensions, raw_value,
    noise_scale, rho); ``ngos_by_measure`` says, for each base measure that was
    released, for which NGOs (None for pooled).
    """
    frames: dict[str, pd.DataFrame] = {}
    published: list[pd.DataFrame] = []
    for measure in plan.measures:
        if measure.id not in ngos_by_measure:
            continue
        rows = raw[raw["measure"] == measure.id]
        base = base_cells(rows, plan, measure, ngos_by_measure[measure.id], approved)
        frames[measure.id] = base
        kind = "sum" if measure.statistic.kind == "sum" else "count"
        published.append(
            _finish(
                base,
                plan,
                measure_id=measure.id,
                title=measure.title,
                question=measure.question,
                kind=kind,
                scope=measure.scope,
            )
        )
    for derived in plan.derived:
        if not all(i in frames for i in derived.inputs):
            continue
        dims = list(plan.dimensions_of(derived.inputs[0]))
        if derived.kind == "rollup":
            assert derived.over is not None
            signed = plan.base_of(derived.inputs[0]).statistic.signed
            frame = rollup_cells(frames[derived.inputs[0]], plan, dims, derived.over, signed)
            kind = "sum"
        else:
            frame = ratio_cells(
                frames[derived.inputs[0]], frames[derived.inputs[1]], plan, derived, dims
            )
            kind = "ratio"
        frames[derived.id] = frame
        scope = plan.base_of(derived.inputs[0]).scope
        published.append(
            _finish(
                frame,
                plan,
                measure_id=derived.id,
                title=derived.title,
                question=derived.question,
                kind=kind,
                scope=scope,
            )
        )
    if not published:
        return pd.DataFrame(columns=cell_columns(plan))
    cells = pd.concat(published, ignore_index=True)
    cells["rho"] = cells["rho"].astype(float).fillna(0.0)
    return cells
