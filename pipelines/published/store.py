"""``published.duckdb``: the tables of the published zone, written whole, read by anyone.

Each publication rewrites every table in one transaction, so a reader sees
either the previous publication or the next, never half of one. Readers open
the file read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

TABLES = (
    "publication",  # one row: when, with which plan and delta
    "releases",  # one row per release: period, version, status, budget spent
    "cells",  # one row per released cell: value, 95% interval, reliability, budget
    "spends",  # one row per release and NGO: rho charged
    "budgets",  # one row per NGO and period: budget, spent, left (rho and epsilon)
    "measures",  # one row per measure of the current plan: title, question, kind
    "plan_accuracy",  # one row per measure and budget: expected 95% half-width
    "submission_counts",  # one row per period and dataset: accepted, superseded, refused (counts only)
    "approvals",  # one row per governed value and period: whether approval is in force
)

DIMENSIONS = (
    "programme",
    "region",
    "ethnicity",
    "age_band",
    "gender",
    "domain",
    "exit_reason",
    "change",
)
EXPORT_COLUMNS = (
    "release_id",
    "period",
    "measure",
    "ngo_id",
    *DIMENSIONS,
    "value",
    "ci95_low",
    "ci95_high",
    "reliability",
    "withheld_reason",
    "rho",
    "title",
    "question",
    "kind",
)


class NotPublished(Exception):
    """The published zone has nothing yet."""


def write_published(path: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Replace every published table at once."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"not a published table: {sorted(unknown)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN")
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        con.execute("COMMIT")


def read_table(
    path: Path, name: str, where: str = "", params: list[object] | None = None
) -> pd.DataFrame:
    """A published table, read-only (``where`` is a trusted SQL condition with ``?`` parameters)."""
    if name not in TABLES:
        raise ValueError(f"not a published table: {name}")
    if not path.exists():
        raise NotPublished(
            f"nothing has been published yet at {path}; run `outcomes release` first"
        )
    with duckdb.connect(str(path), read_only=True) as con:
        clause = f"WHERE {where}" if where else ""
        return con.execute(f"SELECT * FROM {name} {clause}", params or []).df()


def current_cells(path: Path, period: str | None = None) -> pd.DataFrame:
    """Cells of each period's current release, in the tidy export layout."""
    where = "is_current" + (" AND period = ?" if period else "")
    cells = read_table(path, "cells", where, [period] if period else [])
    return cells[list(EXPORT_COLUMNS)]
