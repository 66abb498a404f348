"""Is what we publish usable? Utility figures, from the published zone and the public register.

Issue 12 set targets for a release at the default budget: most per-NGO cells published, the
headline figures published for NGOs big enough to bear them, no per-NGO cell for a programme
or region an NGO is not registered for, and no ``ok`` flag on a cell whose interval is wide
for its scale. These figures are computed from what anyone can read: the published cells (so
an NGO's size is its released, noisy number of clients) and the NGO register's public facts.
Nothing here reads the vault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from pipelines.published.store import current_cells, read_table

PUBLISHED_SHARE = 0.60
"""At least this share of per-NGO cells published (``ok`` or ``low``)."""
HEADLINE_SHARE = 0.90
"""At least this share of NGOs of a size see each of their headline figures published."""
COUNT_SIZE, SHARE_SIZE = 50, 200
"""Clients in the quarter from which an NGO's counts, and its shares, should be published."""
COUNT_MEASURES = ("ngo_clients_total", "ngo_sessions_total")
SHARE_MEASURES = ("ngo_share_paired", "ngo_share_satisfied", "ngo_share_improved")
_ROUNDING = 1e-4
"""A ratio's published bounds are rounded outwards to 4 decimals: its half-width as flagged
can be up to this much narrower than the published one."""


class Registered(Protocol):
    """What the NGO register says publicly about an NGO (both register copies fit)."""

    @property
    def ngo_id(self) -> str: ...
    @property
    def programmes(self) -> tuple[str, ...]: ...
    @property
    def regions(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Figure:
    """One utility figure of one period against its target."""

    period: str
    name: str
    value: float
    target: float
    at_least: bool
    """Whether the figure meets its target by being at least it (else: at most it)."""
    unit: str
    """``share`` (printed as a percentage) or ``cells``."""
    detail: str

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.at_least else self.value <= self.target

    def line(self) -> str:
        """One sentence: what, the figure, the target, PASS or MISS."""
        shown, goal = (
            (f"{self.value:.0%}", f"{self.target:.0%}")
            if self.unit == "share"
            else (f"{self.value:.0f}", f"{self.target:.0f}")
        )
        bound = "at least" if self.at_least else "at most"
        verdict = "PASS" if self.met else "MISS"
        return (
            f"{self.period} {self.name}: {shown} ({self.detail}; target {bound} {goal}) {verdict}"
        )

    def as_record(self) -> dict[str, object]:
        return {
            "period": self.period,
            "name": self.name,
            "value": self.value,
            "target": self.target,
            "at_least": self.at_least,
            "met": self.met,
            "detail": self.detail,
            "line": self.line(),
        }


def _published(flags: pd.Series) -> pd.Series:
    return flags.isin(["ok", "low"])


def _share_published_for(
    period: str, cells: pd.DataFrame, sizes: pd.Series, size: int, measures: Iterable[str]
) -> Figure:
    big = set(sizes[sizes >= size].index)
    wanted = list(measures)
    mine = cells[cells["measure"].isin(wanted) & cells["ngo_id"].isin(big)]
    ngos_ok = (
        mine.assign(_pub=_published(mine["reliability"]))
        .groupby("ngo_id")["_pub"]
        .agg(lambda s: bool(s.all()) and len(s) == len(wanted))
    )
    value = float(ngos_ok.mean()) if big else 1.0
    names = ", ".join(m.removeprefix("ngo_").replace("_", " ") for m in wanted)
    return Figure(
        period,
        f"NGOs with {size}+ clients whose {names} are all published",
        value,
        HEADLINE_SHARE,
        True,
        "share",
        f"{int(ngos_ok.sum())} of {len(big)} NGOs",
    )


def _outside_register(cells: pd.DataFrame, register: Iterable[Registered]) -> int:
    listed = {n.ngo_id: n for n in register}
    outside = 0
    for dim, attr in (("programme", "programmes"), ("region", "regions")):
        keyed = cells[cells[dim].notna() & cells["ngo_id"].isin(listed)]
        for ngo, value in zip(keyed["ngo_id"], keyed[dim], strict=True):
            own = getattr(listed[ngo], attr)
            outside += bool(own) and value not in own
    return outside


def _wide_ok(cells: pd.DataFrame, measures: pd.DataFrame) -> int:
    """``ok`` cells wider than their scale allows: half their value (value scale) or the
    scale's ``ok`` threshold (percentage points, score points)."""
    rules = measures.set_index("measure")[["scale", "low_above"]]
    ok = cells[cells["reliability"] == "ok"].join(rules, on="measure")
    hw = (ok["ci95_high"] - ok["ci95_low"]) / 2 - _ROUNDING
    by_value = (ok["scale"] == "value") & (hw > ok["value"].abs() / 2)
    by_points = (ok["scale"] == "percentage_points") & (hw * 100 > ok["low_above"])
    by_score = (ok["scale"] == "score_points") & (hw > ok["low_above"])
    return int((by_value | by_points | by_score).sum())


def utility_of(
    cells: pd.DataFrame, measures: pd.DataFrame, register: Iterable[Registered], period: str
) -> list[Figure]:
    """The utility figures of one period's current cells (the published layout)."""
    mine = cells[cells["period"] == period]
    per_ngo = mine[mine["ngo_id"].notna()]
    published = _published(per_ngo["reliability"])
    clients = per_ngo[per_ngo["measure"] == "ngo_clients_total"].set_index("ngo_id")["value"]
    sizes = clients.fillna(0.0)
    return [
        Figure(
            period,
            "per-NGO cells published (ok or low)",
            float(published.mean()) if len(per_ngo) else 1.0,
            PUBLISHED_SHARE,
            True,
            "share",
            f"{int(published.sum())} of {len(per_ngo)} cells",
        ),
        _share_published_for(period, per_ngo, sizes, COUNT_SIZE, COUNT_MEASURES),
        _share_published_for(period, per_ngo, sizes, SHARE_SIZE, SHARE_MEASURES),
        Figure(
            period,
            "per-NGO cells for a programme or region the NGO is not registered for",
            float(_outside_register(per_ngo, register)),
            0.0,
            False,
            "cells",
            f"of {len(per_ngo)} per-NGO cells",
        ),
        Figure(
            period,
            "ok cells wider than their scale allows",
            float(_wide_ok(mine, measures)),
            0.0,
            False,
            "cells",
            f"of {int((mine['reliability'] == 'ok').sum())} ok cells",
        ),
    ]


def published_utility(
    published_db: Path, register: Iterable[Registered], period: str | None = None
) -> list[Figure]:
    """The utility figures of ``period`` (every published period when None), read from the
    published zone and the register's public facts only. An NGO's size is its released
    number of clients."""
    cells = current_cells(published_db, period)
    measures = read_table(published_db, "measures")
    listed = list(register)
    periods = [period] if period else sorted(cells["period"].dropna().unique())
    return [f for p in periods for f in utility_of(cells, measures, listed, str(p))]
