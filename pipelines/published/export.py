"""Exports of the published zone for funder analysts: CSV and Parquet, one tidy row per cell.

Text cells that a spreadsheet would run as a formula (starting with =, +, -
or @, and not a plain number) are neutralised with a leading apostrophe in
CSV; Parquet keeps values exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipelines.published.store import current_cells

_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
FORMATS = ("csv", "parquet")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix risky text cells with ``'`` so spreadsheets show them as text, never run them."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        text = values.astype("string")
        risky = text.str.match(r"[=+\-@]", na=False) & ~text.str.fullmatch(
            _PLAIN_NUMBER.pattern, na=False
        )
        if risky.any():
            out[column] = values.astype(object).where(~risky, "'" + text.astype(object))
    return out


def write_frame(frame: pd.DataFrame, fmt: str, out: Path) -> Path:
    """Write atomically: a reader never sees half a file."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "csv":
        neutralise_formulas(frame).to_csv(tmp, index=False, lineterminator="\n")
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out


def export_cells(published_db: Path, fmt: str, out: Path, period: str | None = None) -> Path:
    """The current release of every period (or one), as CSV or Parquet."""
    return write_frame(current_cells(published_db, period), fmt, out)


def write_exports(published_db: Path, exports_dir: Path) -> list[Path]:
    """Refresh ``exports/cells.parquet`` and ``exports/cells.csv``."""
    cells = current_cells(published_db)
    return [write_frame(cells, fmt, exports_dir / f"cells.{fmt}") for fmt in FORMATS]
