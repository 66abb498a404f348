"""Exports of the published zone for funder analysts: CSV and Parquet, one tidy row per cell,
and the audit log's signed head (``audit_anchor.json``) for anyone to keep.

Text cells that a spreadsheet would run as a formula (starting with =, +, -
or @, and not a plain number) are neutralised with a leading apostrophe in
CSV; Parquet keeps values exactly.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.published.store import ANCHOR_FIELDS, current_cells, read_table

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
    """Refresh ``exports/cells.parquet``, ``exports/cells.csv`` and ``exports/audit_anchor.json``."""
    cells = current_cells(published_db)
    written = [write_frame(cells, fmt, exports_dir / f"cells.{fmt}") for fmt in FORMATS]
    return [*written, write_anchor(published_db, exports_dir / ANCHOR_FILE)]


# --- the audit anchor --------------------------------------------------------------------------

ANCHOR_FILE = "audit_anchor.json"
ANCHOR_FORMAT = "outcome-hub/audit-anchor/v1"
MAX_ANCHOR_BYTES = 64 * 1024 * 1024
"""A saved anchor file larger than this is refused unread (a year of checkpoints is a few MB)."""
_ABOUT = (
    "The newest entry of the Outcome Hub's audit log when this was published, signed with the "
    "hub's audit signing key (Ed25519), and every earlier signed checkpoint. Keep this file: if "
    "the log is later cut short or rewritten, `outcomes audit --verify --against "
    "audit_anchor.json` on the hub says so, and no one without the signing key can make a "
    "signature that passes. The signed bytes are the canonical JSON (sorted keys, no spaces) "
    'of {"hash", "purpose": "outcome-hub/audit-head/v1", "seq", "signed_at"}; see '
    "docs/decisions/012-signed-audit-anchors.md."
)


def _plain(value: Any) -> Any:
    """A table value as JSON: missing values as null, numpy numbers as Python numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def anchor_document(published_db: Path) -> dict[str, Any]:
    """The audit log's head as last published, with every checkpoint, as one JSON document."""
    publication = read_table(published_db, "publication").to_dict("records")
    row = publication[0] if publication else {}
    head = {k: _plain(row.get(f"audit_{k}")) for k in ANCHOR_FIELDS}
    checkpoints = read_table(published_db, "audit_checkpoints")
    return {
        "format": ANCHOR_FORMAT,
        "about": _ABOUT,
        "published_at": _plain(row.get("published_at")),
        "head": head if head["seq"] is not None else None,
        "checkpoints": [
            {k: _plain(r[k]) for k in ANCHOR_FIELDS} for r in checkpoints.to_dict("records")
        ],
    }


def write_anchor(published_db: Path, out: Path) -> Path:
    """Write ``audit_anchor.json`` atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(anchor_document(published_db), indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def read_anchor(path: Path) -> dict[str, Any]:
    """A saved ``audit_anchor.json`` (or a saved exports folder holding one), checked for its form.

    The signatures are not checked here: that needs the hub's log (``outcomes audit --verify
    --against``).
    """
    if path.is_dir():
        if not (path / ANCHOR_FILE).is_file():
            raise ValueError(f"the folder {path} holds no {ANCHOR_FILE}")
        path = path / ANCHOR_FILE
    if not path.is_file():
        raise ValueError(f"there is no file at {path}")
    if path.stat().st_size > MAX_ANCHOR_BYTES:
        raise ValueError(
            f"{path} is larger than {MAX_ANCHOR_BYTES // (1024 * 1024)} MB (MAX_ANCHOR_BYTES): "
            "not an anchor file"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(f"{path} is not a readable JSON file") from None
    if not isinstance(document, dict) or document.get("format") != ANCHOR_FORMAT:
        raise ValueError(f"{path} is not an Outcome Hub audit anchor (format {ANCHOR_FORMAT})")
    head, checkpoints = document.get("head"), document.get("checkpoints", [])
    if not (head is None or isinstance(head, dict)) or not (
        isinstance(checkpoints, list) and all(isinstance(c, dict) for c in checkpoints)
    ):
        raise ValueError(f"{path} has a head or checkpoints that are not records")
    return document
