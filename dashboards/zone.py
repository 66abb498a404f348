"""The published zone, read once and indexed for the site: the dashboards' only data source.

Everything the site shows comes from ``published.duckdb`` through
:mod:`pipelines.published.store` (read-only). The tables are read once and the
cells turned into small records grouped by measure, period and NGO, so that
building thousands of NGO pages does no further reading or frame filtering.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pipelines.published.export import neutralise_formulas
from pipelines.published.store import DIMENSIONS, EXPORT_COLUMNS, read_optional, read_table
from pipelines.standard.periods import Period

_DEFAULT_UNITS = {"ratio": "ratio", "count": "clients", "sum": "count"}
_RATIO_UNITS = (("share_", "share"), ("mean_change", "score points"))
"""A ratio the accuracy table does not list is read by its id: a share, or a change in score."""


class Cell(NamedTuple):
    """One published cell of a current release."""

    row: int
    """Position in :attr:`Zone.csv_rows`, so a chart's download holds exactly its cells."""
    period: str
    measure: str
    ngo_id: str | None
    keys: Mapping[str, str]
    value: float | None
    low: float | None
    high: float | None
    reliability: str
    reason: str | None
    rho: float | None

    @property
    def withheld(self) -> bool:
        return self.reliability == "withheld" or self.value is None


@dataclass(frozen=True)
class MeasureInfo:
    """A measure of the plan, as the ``measures`` table describes it."""

    id: str
    title: str
    question: str
    kind: str
    scope: str
    dimensions: tuple[str, ...]
    target: float | None
    description: str
    unit: str
    headline: int | None = None
    """Position among its question's headline measures (the release plan names them)."""
    scale: str = ""
    """The scale its precision is judged on (``value``, ``percentage_points``, ``score_points``)."""
    rule: str = ""
    """That scale's flagging rule in one plain sentence, as the release plan states it."""


@dataclass(frozen=True)
class NgoInfo:
    """What the NGO register says publicly about one NGO, as published."""

    id: str
    name: str
    programmes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass
class Zone:
    """Every published table, with the current cells indexed for page building."""

    path: Path
    publication: dict[str, Any]
    releases: pd.DataFrame
    budgets: pd.DataFrame
    spends: pd.DataFrame
    plan_accuracy: pd.DataFrame
    submission_counts: pd.DataFrame
    approvals: pd.DataFrame
    audit_checkpoints: pd.DataFrame
    """Every signed head of the hub's audit log, oldest first (the publication's own head is in
    :attr:`publication`, ``audit_*``)."""
    measures: dict[str, MeasureInfo]
    periods: tuple[str, ...]
    cells: list[Cell]
    flags: frozenset[str]
    """Every reliability flag in the published cells (any release)."""
    reasons: frozenset[str]
    """Every withheld reason in the published cells (any release)."""
    csv_rows: list[tuple[Any, ...]] = field(repr=False)
    ngos: dict[str, NgoInfo] = field(default_factory=dict)
    """The register's public facts, by NGO id (empty for a zone published before they were)."""
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    """Submission status (submitted, late, not submitted) by (period, NGO)."""
    released: tuple[str, ...] = ()
    """Every released period, whichever period this view is of (see :meth:`at`)."""
    _pooled: dict[tuple[str, str], list[Cell]] = field(repr=False, default_factory=dict)
    _ngo: dict[str, dict[tuple[str, str], list[Cell]]] = field(repr=False, default_factory=dict)

    @property
    def latest(self) -> str | None:
        return self.periods[-1] if self.periods else None

    @property
    def latest_label(self) -> str:
        return self.latest or "no released period yet"

    @property
    def previous(self) -> str | None:
        return self.periods[-2] if len(self.periods) > 1 else None

    @property
    def ngo_ids(self) -> list[str]:
        """NGOs with released cells or a budget, in id order."""
        ids = set(self._ngo) | set(self.budgets["ngo_id"].dropna().astype(str))
        return sorted(ids)

    def at(self, period: str) -> Zone:
        """The zone as of ``period``: it is the latest, and history runs up to it (no later).

        Every table with a period is cut at ``period``, so an earlier period's folder shows
        the same ledger, counts and statuses whether or not later periods were released."""
        if period not in self.released:
            raise ValueError(f"{period} is not a released period; released: {self.released}")

        def upto(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["period"].astype(str) <= period]

        return replace(
            self,
            periods=tuple(p for p in self.released if p <= period),
            budgets=upto(self.budgets),
            releases=upto(self.releases),
            spends=upto(self.spends),
            submission_counts=upto(self.submission_counts),
            approvals=upto(self.approvals),
            cells=[c for c in self.cells if c.period <= period],
            statuses={k: v for k, v in self.statuses.items() if k[0] <= period},
        )

    def quarter_before(self, quarters: int = 1) -> str | None:
        """The calendar quarter ``quarters`` before the latest, if it was released (else None)."""
        if self.latest is None:
            return None
        before = str(Period.parse(self.latest).back(quarters))
        return before if before in self.periods else None

    def name(self, ngo_id: str) -> str:
        """The NGO's name in the register, or its id when the register does not name it."""
        known = self.ngos.get(ngo_id)
        return known.name if known is not None and known.name else ngo_id

    def status(self, ngo_id: str, period: str | None = None) -> str:
        """Submission status of the NGO for ``period`` (default: the latest); "" if unknown."""
        return self.statuses.get((period or self.latest or "", ngo_id), "")

    def headlines(self, question: str) -> list[str]:
        """The question's headline measures, in the order the release plan lists them."""
        found = [
            m for m in self.measures.values() if m.question == question and m.headline is not None
        ]
        return [m.id for m in sorted(found, key=lambda m: m.headline or 0)]

    def measure(self, measure_id: str) -> MeasureInfo:
        known = self.measures.get(measure_id)
        if known is not None:
            return known
        return MeasureInfo(measure_id, measure_id, "", "count", "pooled", (), None, "", "count")

    def pooled(self, measure_id: str, period: str | None = None) -> list[Cell]:
        """Pooled cells of a measure in ``period`` (default: the latest)."""
        return self._pooled.get((period or self.latest or "", measure_id), [])

    def ngo(self, ngo_id: str, measure_id: str, period: str | None = None) -> list[Cell]:
        """One NGO's cells of a measure in ``period`` (default: the latest)."""
        return self._ngo.get(ngo_id, {}).get((period or self.latest or "", measure_id), [])

    def one(self, cells: list[Cell]) -> Cell | None:
        return cells[0] if cells else None

    def csv_text(self, cells: Iterable[Cell]) -> str:
        """The cells as CSV in the export layout (only the breakdowns they use), formulas neutralised."""
        chosen = list(cells)
        used = {d for c in chosen for d in c.keys}
        with_ngo = any(c.ngo_id for c in chosen)
        index = [
            i
            for i, col in enumerate(EXPORT_COLUMNS)
            if (col not in DIMENSIONS or col in used) and (col != "ngo_id" or with_ngo)
        ]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([EXPORT_COLUMNS[i] for i in index])
        for cell in chosen:
            row = self.csv_rows[cell.row]
            writer.writerow([row[i] for i in index])
        return out.getvalue()


def _none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _text(value: Any) -> str | None:
    value = _none(value)
    return None if value is None else str(value)


def _real(value: Any) -> float | None:
    value = _none(value)
    return None if value is None else float(value)


def _is_text(series: pd.Series) -> bool:
    return bool(series.dtype == object or pd.api.types.is_string_dtype(series))


def _safe_texts(series: pd.Series, missing: Any = None) -> list[Any]:
    """:func:`~pipelines.published.export.neutralise_formulas` on a text column, applied once
    per distinct value: the cells' text columns (titles, keys, reasons, NGO ids) hold few
    distinct values, so this is the same result at national scale for a fraction of the time."""
    values = _objects(series, None)
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    safe = neutralise_formulas(pd.DataFrame({"text": pd.Series(distinct, dtype=object)}))
    mapping = dict(zip(distinct, safe["text"].tolist(), strict=True))
    return [missing if v is None else mapping[v] for v in values]


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell neutralised against spreadsheet formulas."""
    out = frame.copy()
    for column in out.columns:
        if _is_text(out[column]):
            out[column] = pd.Series(_safe_texts(out[column]), index=out.index, dtype=object)
    return out


def _csv_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Every current cell as an export row: formulas neutralised, missing values empty, and
    no value at all for a withheld cell, whatever the table holds."""
    withheld = [f == "withheld" for f in _objects(frame["reliability"])]
    columns = []
    for column in EXPORT_COLUMNS:
        series = frame[column]
        values = _safe_texts(series, "") if _is_text(series) else _objects(series, "")
        if column in ("value", "ci95_low", "ci95_high"):
            values = ["" if w else v for v, w in zip(values, withheld, strict=True)]
        columns.append(values)
    return list(zip(*columns, strict=True))


def _objects(series: pd.Series, missing: Any = None) -> list[Any]:
    """A column as Python objects, with every kind of missing value (NaN, NA, None) as ``missing``."""
    if pd.api.types.is_float_dtype(series):
        numbers = series.to_numpy(dtype=float, na_value=np.nan)
        out = numbers.astype(object)
        out[np.isnan(numbers)] = missing
        return list(out.tolist())
    return list(series.to_numpy(dtype=object, na_value=missing).tolist())


def _measures(frame: pd.DataFrame, accuracy: pd.DataFrame) -> dict[str, MeasureInfo]:
    units = {
        str(m): str(u)
        for m, u in zip(accuracy["measure"], accuracy["unit"], strict=True)
        if _text(u)
    }
    out: dict[str, MeasureInfo] = {}
    for r in frame.to_dict("records"):
        measure = str(r["measure"])
        kind = _text(r["kind"]) or "count"
        dims = tuple(d for d in (_text(r["dimensions"]) or "").split(",") if d)
        out[measure] = MeasureInfo(
            id=measure,
            title=_text(r["title"]) or measure,
            question=_text(r["question"]) or "",
            kind=kind,
            scope=_text(r["scope"]) or "pooled",
            dimensions=dims,
            target=_real(r["target"]),
            description=_text(r["description"]) or "",
            unit=units.get(measure) or _unit_by_id(measure, kind),
            headline=None if _real(r["headline"]) is None else int(r["headline"]),
            scale=_text(r.get("scale")) or "",
            rule=_text(r.get("rule")) or "",
        )
    return out


def _unit_by_id(measure: str, kind: str) -> str:
    if kind == "ratio":
        for prefix, unit in _RATIO_UNITS:
            if measure.startswith(prefix):
                return unit
    return _DEFAULT_UNITS.get(kind, "count")


def _codes(text: Any) -> tuple[str, ...]:
    return tuple(c for c in (_text(text) or "").split(",") if c)


def _register(frame: pd.DataFrame) -> dict[str, NgoInfo]:
    return {
        str(r["ngo_id"]): NgoInfo(
            str(r["ngo_id"]),
            _text(r["name"]) or str(r["ngo_id"]),
            _codes(r["programmes"]),
            _codes(r["regions"]),
        )
        for r in frame.to_dict("records")
    }


def load_zone(published_db: Path) -> Zone:
    """Read every published table once (read-only) and index the current cells."""
    tables = {
        name: read_table(published_db, name)
        for name in (
            "publication",
            "releases",
            "budgets",
            "spends",
            "measures",
            "plan_accuracy",
            "submission_counts",
            "approvals",
            "audit_checkpoints",
        )
    }
    every = read_table(published_db, "cells")
    flags = frozenset(str(f) for f in every["reliability"].dropna().unique())
    reasons = frozenset(str(r) for r in every["withheld_reason"].dropna().unique())
    current = every[every["is_current"].fillna(False).astype(bool)].reset_index(drop=True)
    del every

    text = {c: _objects(current[c]) for c in ("period", "measure", "ngo_id", "withheld_reason")}
    dims = list(zip(*(_objects(current[d]) for d in DIMENSIONS), strict=True))
    numbers = {c: _objects(current[c]) for c in ("value", "ci95_low", "ci95_high", "rho")}
    flags_ = [f if isinstance(f, str) else "ok" for f in _objects(current["reliability"])]
    cells: list[Cell] = []
    pooled: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    by_ngo: dict[str, dict[tuple[str, str], list[Cell]]] = defaultdict(lambda: defaultdict(list))
    for i, (period, measure, ngo_id, reason, keys, value, low, high, rho, flag) in enumerate(
        zip(
            text["period"],
            text["measure"],
            text["ngo_id"],
            text["withheld_reason"],
            dims,
            numbers["value"],
            numbers["ci95_low"],
            numbers["ci95_high"],
            numbers["rho"],
            flags_,
            strict=True,
        )
    ):
        shown = flag != "withheld"
        cell = Cell(
            row=i,
            period=str(period),
            measure=str(measure),
            ngo_id=None if ngo_id is None else str(ngo_id),
            keys={d: str(k) for d, k in zip(DIMENSIONS, keys, strict=True) if k is not None},
            value=float(value) if shown and value is not None else None,
            low=float(low) if shown and low is not None else None,
            high=float(high) if shown and high is not None else None,
            reliability=flag,
            reason=None if reason is None else str(reason),
            rho=None if rho is None else float(rho),
        )
        cells.append(cell)
        if cell.ngo_id is None:
            pooled[(cell.period, cell.measure)].append(cell)
        else:
            by_ngo[cell.ngo_id][(cell.period, cell.measure)].append(cell)

    publication = tables["publication"].to_dict("records")
    statuses = read_optional(published_db, "submission_status")
    periods = tuple(sorted({c.period for c in cells}))
    return Zone(
        path=published_db,
        publication={k: _none(v) for k, v in (publication[0] if publication else {}).items()},
        releases=tables["releases"],
        budgets=tables["budgets"],
        spends=tables["spends"],
        plan_accuracy=tables["plan_accuracy"],
        submission_counts=tables["submission_counts"],
        approvals=tables["approvals"],
        audit_checkpoints=tables["audit_checkpoints"],
        measures=_measures(tables["measures"], tables["plan_accuracy"]),
        periods=periods,
        released=periods,
        ngos=_register(read_optional(published_db, "ngos")),
        statuses={
            (str(p), str(n)): str(s)
            for p, n, s in zip(
                statuses["period"], statuses["ngo_id"], statuses["status"], strict=True
            )
        },
        cells=cells,
        flags=flags,
        reasons=reasons,
        csv_rows=_csv_rows(current),
        _pooled=dict(pooled),
        _ngo={k: dict(v) for k, v in by_ngo.items()},
    )
