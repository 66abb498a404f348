"""Retention: individual-level rows of released periods are deleted when they are old enough.

Purging deletes vault rows (current and superseded submissions, staged rows)
and the refused payloads kept in the vault of periods that have a current
release and ended more than the given number of days ago. Submission records
keep their hashes and counts (status ``purged``); the ledger, the published
releases and the audit log are untouched, the audit log records what was
purged, and the desk's receipts show it to the NGOs. A dry run
(:func:`purgeable`) says the same without deleting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.db import transaction
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.desk.sync import sync_receipts
from pipelines.hub.vault import quarantine, releases, submissions
from pipelines.hub.vault import rows as vault_rows
from pipelines.standard.handover import PAYLOAD
from pipelines.standard.periods import Period


@dataclass(frozen=True)
class Purged:
    """What purging one period deletes (or, in a dry run, would delete)."""

    period: str
    rows: int
    submissions: int
    quarantined_files: int


def _cutoff(older_than_days: int, today: date | None) -> date:
    if older_than_days < 0:
        raise ValueError(f"--older-than must be zero or more days, got {older_than_days}")
    return (today or date.today()) - timedelta(days=older_than_days)


def _legacy_payloads(home: Home, con: duckdb.DuckDBPyConnection, period: str) -> list[Path]:
    """Refused payloads an older hub kept in the clear in its quarantine folder."""
    return [
        path
        for sid in submissions.ids_in_period(con, period)
        if (path := home.quarantine / sid / PAYLOAD).exists()
    ]


def purgeable(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    *,
    older_than_days: int,
    today: date | None = None,
) -> list[Purged]:
    """What :func:`purge` would delete, per period: released periods that ended more than
    ``older_than_days`` ago and still hold rows, submissions or quarantined files. Reads only."""
    cutoff = _cutoff(older_than_days, today)
    found = []
    for period in releases.current_by_period(con):
        if Period.parse(period).end >= cutoff:
            continue
        due = Purged(
            period,
            vault_rows.count_in_period(con, period),
            submissions.count_held(con, period),
            len(_legacy_payloads(home, con, period)) + quarantine.count_period(con, period),
        )
        if due.rows or due.submissions or due.quarantined_files:
            found.append(due)
    return found


def purge(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    *,
    older_than_days: int,
    actor: str,
    today: date | None = None,
) -> list[Purged]:
    """Delete the vault rows of released periods that ended more than ``older_than_days`` ago.

    Only rows go: the ledger (budgets, caps, spends, releases and what they read, proposals and
    approvals) and the audit log stay whole, so every budget display, the rolling-year cap and
    ``outcomes audit --verify`` work after a purge as before it.
    """
    results = []
    for due in purgeable(home, con, older_than_days=older_than_days, today=today):
        removed = 0
        for payload in _legacy_payloads(home, con, due.period):
            payload.unlink()  # kept in the clear by hubs before refused payloads went in the vault
            removed += 1
        with transaction(con):
            vault_rows.delete_period(con, due.period)
            removed += quarantine.delete_period(con, due.period)
            purged = submissions.mark_purged(con, due.period, datetime.now(UTC))
            audit.record(
                con,
                [
                    audit.Event(
                        actor,
                        "purged",
                        due.period,
                        {
                            "rows": due.rows,
                            "submissions": len(purged),
                            "quarantined_files": removed,
                            "older_than_days": older_than_days,
                        },
                    )
                ],
            )
        results.append(Purged(due.period, due.rows, len(purged), removed))
        sync_receipts(home, con, purged)
    if results:
        con.execute("CHECKPOINT")
    return results
