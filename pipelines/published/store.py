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

from pipelines.db import registered, transaction

DIMENSIONS = (
    "programme",
    "region",
    "ethnicity",
    "age_band",
    "gender",
    "domain",
    "domain_group",
    "exit_reason",
    "change",
)
_TEXT, _REAL, _INT, _BOOL, _TIME = "VARCHAR", "DOUBLE", "BIGINT", "BOOLEAN", "TIMESTAMPTZ"

SCHEMA: dict[str, dict[str, str]] = {
    # one row: when, with which plan and delta
    "publication": {
        "published_at": _TIME,
        "hub_version": _TEXT,
        "plan_version": _TEXT,
        "plan_digest": _TEXT,
        "delta": _REAL,
        "default_rho": _REAL,
        "default_epsilon": _REAL,  # default_rho as epsilon at delta, so readers need no DP library
        # the default cap on what any four consecutive quarters spend per NGO: a year's guarantee
        "annual_rho": _REAL,
        "annual_epsilon": _REAL,
        # the contribution caps every release bounds a client by, and the submission window
        "sessions_per_episode": _INT,
        "episodes_per_client": _INT,
        "window_days": _INT,
        # the audit log's newest entry when published, signed: an anchor outsiders can hold
        "audit_seq": _INT,
        "audit_hash": _TEXT,
        "audit_signed_at": _TEXT,  # exactly the text that was signed (ISO 8601, UTC)
        "audit_reason": _TEXT,
        "audit_signature": _TEXT,  # hex Ed25519 signature; empty when the hub had no signing key
        "audit_public_key": _TEXT,  # hex of the 32-byte Ed25519 public key
        "audit_key_fingerprint": _TEXT,
    },
    # one row per release: period, version, status, budget spent
    "releases": {
        "release_id": _TEXT,
        "period": _TEXT,
        "version": _INT,
        "status": _TEXT,
        "superseded_by": _TEXT,
        "released_at": _TIME,
        "plan_version": _TEXT,
        "plan_digest": _TEXT,
        "ngos_charged": _INT,
        "rho_max_per_ngo": _REAL,
        "rho_total": _REAL,
    },
    # one row per released cell: value, 95% interval, reliability, budget
    "cells": {
        "release_id": _TEXT,
        "period": _TEXT,
        "is_current": _BOOL,
        "measure": _TEXT,
        "title": _TEXT,
        "question": _TEXT,
        "kind": _TEXT,
        "scope": _TEXT,
        "ngo_id": _TEXT,
        **dict.fromkeys(DIMENSIONS, _TEXT),
        "value": _REAL,
        "ci95_low": _REAL,
        "ci95_high": _REAL,
        "reliability": _TEXT,
        "withheld_reason": _TEXT,
        "rho": _REAL,
    },
    # one row per release and NGO: rho charged
    "spends": {"release_id": _TEXT, "period": _TEXT, "ngo_id": _TEXT, "rho": _REAL},
    # one row per NGO and period: budget, spent, left (rho and epsilon)
    "budgets": {
        "period": _TEXT,
        "ngo_id": _TEXT,
        "budget_rho": _REAL,
        "spent_rho": _REAL,
        "left_rho": _REAL,
        "budget_epsilon": _REAL,
        "spent_epsilon": _REAL,
        "delta": _REAL,
        # the NGO's busiest four consecutive quarters containing the period, against its own cap
        "year_window": _TEXT,
        "year_cap_rho": _REAL,
        "year_spent_rho": _REAL,
        "year_left_rho": _REAL,
        "year_cap_epsilon": _REAL,
        "year_spent_epsilon": _REAL,
    },
    # one row per registered NGO: the register's public facts (comma-separated codes)
    "ngos": {
        "ngo_id": _TEXT,
        "name": _TEXT,
        "programmes": _TEXT,
        "regions": _TEXT,
        "active": _BOOL,
    },
    # one row per period and NGO: submitted, late or not submitted (from submission metadata)
    "submission_status": {
        "period": _TEXT,
        "ngo_id": _TEXT,
        "status": _TEXT,
        "first_received_on": _TEXT,
        "window_closes_on": _TEXT,
    },
    # one row per measure of the current plan: title, question, kind
    "measures": {
        "measure": _TEXT,
        "title": _TEXT,
        "question": _TEXT,
        "kind": _TEXT,
        "scope": _TEXT,
        "dimensions": _TEXT,
        "target": _REAL,
        "description": _TEXT,
        "headline": _INT,  # position among its question's headline measures; empty if not one
        "scale": _TEXT,  # what its precision is judged on: value, percentage_points, score_points
        "rule": _TEXT,  # the reliability rule of that scale, in one plain sentence
        "low_above": _REAL,  # 95% half-width on its scale above which a cell is low
        "withhold_above": _REAL,  # ... and above which it is withheld
    },
    # one row per measure and budget: expected 95% half-width
    "plan_accuracy": {
        "measure": _TEXT,
        "title": _TEXT,
        "scope": _TEXT,
        "kind": _TEXT,
        "unit": _TEXT,
        "rho": _REAL,
        "epsilon": _REAL,
        "halfwidth_95": _REAL,
        "cell_size": _REAL,
    },
    # one row per period and dataset: accepted, superseded, refused (counts only)
    "submission_counts": {
        "period": _TEXT,
        "dataset": _TEXT,
        "accepted": _INT,
        "superseded": _INT,
        "refused": _INT,
    },
    # one row per governed value and period: whether approval is in force
    "approvals": {
        "period": _TEXT,
        "dimension": _TEXT,
        "value": _TEXT,
        "in_force": _BOOL,
        "decided_at": _TIME,
    },
    # one row per signed head of the audit log (checkpoint), oldest first
    "audit_checkpoints": {
        "seq": _INT,
        "hash": _TEXT,
        "signed_at": _TEXT,
        "reason": _TEXT,
        "signature": _TEXT,
        "public_key": _TEXT,
        "key_fingerprint": _TEXT,
    },
}
TABLES = tuple(SCHEMA)
ANCHOR_FIELDS = tuple(SCHEMA["audit_checkpoints"])
"""The fields of one signed head, as published and exported."""

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
    if set(tables) != set(TABLES):
        raise ValueError(
            f"a publication writes every table: missing {sorted(set(TABLES) - set(tables))}, "
            f"unknown {sorted(set(tables) - set(TABLES))}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con, transaction(con):
        for name, columns in SCHEMA.items():
            frame = tables[name]
            missing = set(columns) - set(frame.columns)
            if missing:
                raise ValueError(f"published table {name} lacks columns {sorted(missing)}")
            select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
            with registered(con, frame) as rows:
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM {rows}")


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
        return (
            con.execute(f"SELECT * FROM {name} {clause}", params or []).to_arrow_table().to_pandas()
        )


def read_optional(path: Path, name: str) -> pd.DataFrame:
    """A published table that a zone published by an older hub may lack: then empty, with the
    table's columns (so a site can still be built from it)."""
    try:
        return read_table(path, name)
    except duckdb.CatalogException:
        return pd.DataFrame(columns=list(SCHEMA[name]))


def current_cells(path: Path, period: str | None = None) -> pd.DataFrame:
    """Cells of each period's current release, in the tidy export layout."""
    where = "is_current" + (" AND period = ?" if period else "")
    cells = read_table(path, "cells", where, [period] if period else [])
    return cells[list(EXPORT_COLUMNS)]
