"""An NGO's own released figures, and the pooled ones beside them, from the published exports.

The API reads the published zone's export file, never the vault: only
differentially private cells, each with its interval, ever leave through this
route. The export is replaced whole by a rename at every publication, so a
reader holds either the previous file or the next; the table read is kept in
memory until the file changes.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from pipelines.published.export import neutralise_formulas
from pipelines.published.store import DIMENSIONS
from pipelines.standard.api import FigureCell, Figures

CELLS_FILE = "cells.parquet"


class NothingReleased(Exception):
    """No published cells for the period asked; the message says when there will be."""


@dataclass
class PublishedCells:
    """The published cells of one hub, read from ``exports/cells.parquet`` when it changes."""

    exports: Path
    _seen: tuple[int, int, int] | None = None
    _frame: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _cells(self) -> pd.DataFrame:
        path = self.exports / CELLS_FILE
        with self._lock:
            try:
                with path.open("rb") as fh:  # the file this descriptor holds stays whole
                    info = os.fstat(fh.fileno())
                    mark = (info.st_ino, info.st_mtime_ns, info.st_size)
                    if mark != self._seen or self._frame is None:
                        self._frame = pq.read_table(fh).to_pandas()
                        self._seen = mark
            except FileNotFoundError:
                raise NothingReleased(
                    "Nothing has been released yet: figures appear here once the hub's steward "
                    "releases a quarter."
                ) from None
            return self._frame

    def of(self, ngo_id: str, period: str) -> pd.DataFrame:
        """The period's cells of ``ngo_id`` and the pooled ones, with a ``scope`` column."""
        cells = self._cells()
        cells = cells[cells["period"] == period]
        if cells.empty:
            raise NothingReleased(
                f"Nothing has been released for {period} yet: figures appear here once the "
                "hub's steward releases that quarter."
            )
        mine = cells[(cells["ngo_id"] == ngo_id) | cells["ngo_id"].isna()].copy()
        mine.insert(0, "scope", mine["ngo_id"].map(lambda n: "pooled" if _missing(n) else "own"))
        return mine.sort_values(["scope", "measure"], kind="stable").reset_index(drop=True)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def as_figures(frame: pd.DataFrame, ngo_id: str, period: str) -> Figures:
    """The cells as the API's JSON answer."""
    dims = [d for d in DIMENSIONS if d in frame.columns]
    cells = [
        FigureCell(
            measure=str(row["measure"]),
            title=None if _missing(row.get("title")) else str(row["title"]),
            scope="pooled" if row["scope"] == "pooled" else "own",
            breakdown={d: str(row[d]) for d in dims if not _missing(row[d])},
            value=_number(row["value"]),
            ci95_low=_number(row["ci95_low"]),
            ci95_high=_number(row["ci95_high"]),
            reliability=str(row["reliability"]),
            withheld_reason=None
            if _missing(row["withheld_reason"])
            else str(row["withheld_reason"]),
            rho=_number(row["rho"]),
        )
        for row in frame.to_dict("records")
    ]
    release = str(frame["release_id"].iloc[0]) if len(frame) else ""
    return Figures(period=period, ngo_id=ngo_id, release_id=release, cells=cells)


def as_csv(frame: pd.DataFrame) -> bytes:
    """The cells as CSV; text a spreadsheet would run as a formula is neutralised."""
    text: str = neutralise_formulas(frame).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")
