"""Invariants between the ledger and the published zone, asserted by asset checks and tests."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from pipelines.hub.ledger import TOLERANCE, ledger_totals
from pipelines.published.store import NotPublished, read_table


def ledger_differences(con: duckdb.DuckDBPyConnection, published_db: Path) -> dict[str, str]:
    """NGO-periods whose ledger total differs from the sum of their published spends."""
    ledger = {(r.period, r.ngo_id): float(r.rho) for r in ledger_totals(con).itertuples()}
    try:
        spends = read_table(published_db, "spends")
    except NotPublished:
        spends = None
    published: dict[tuple[str, str], float] = {}
    if spends is not None:
        for r in spends.itertuples():
            key = (str(r.period), str(r.ngo_id))
            published[key] = published.get(key, 0.0) + float(r.rho)
    differences = {}
    for key in set(ledger) | set(published):
        a, b = ledger.get(key, 0.0), published.get(key, 0.0)
        if not math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=1e-12):
            differences[f"{key[0]}/{key[1]}"] = f"ledger {a:.12g}, published {b:.12g}"
    return differences


def cells_without_interval(published_db: Path) -> int:
    """Published values with no interval, plus withheld cells that show a value or lack a reason."""
    try:
        cells = read_table(published_db, "cells")
    except NotPublished:
        return 0
    shown = cells["reliability"] != "withheld"
    bad_shown = shown & (
        cells["value"].isna()
        | cells["ci95_low"].isna()
        | cells["ci95_high"].isna()
        | (cells["ci95_low"] > cells["value"])
        | (cells["ci95_high"] < cells["value"])
    )
    bad_withheld = ~shown & (cells["value"].notna() | cells["withheld_reason"].isna())
    return int(bad_shown.sum() + bad_withheld.sum())


def cells_without_budget(published_db: Path) -> int:
    """Published values whose budget is missing or not positive."""
    try:
        cells = read_table(published_db, "cells")
    except NotPublished:
        return 0
    shown = cells["reliability"] != "withheld"
    return int((shown & ~(cells["rho"] > 0)).sum())
