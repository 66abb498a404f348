"""Retention: individual-level rows of released periods are deleted when they are old enough.

Purging deletes vault rows (current and superseded submissions, staged rows)
and the refused payloads kept in the vault of periods that have a current
release and ended more than the given number of days ago. Submission records
keep their hashes and counts (status ``purged``); published releases are
untouched; the audit log records what was purged, and the desk's receipts
show it to the NGOs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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
    period: str
    rows: int
    submissions: int
    quarantined_files: int


def purge(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    *,
    older_than_days: int,
    actor: str,
    today: date | None = None,
) -> list[Purged]:
    """Delete the vault rows of released periods that ended more than ``older_than_days`` ago."""
    if older_than_days < 0:
        raise ValueError(f"--older-than must be zero or more days, got {older_than_days}")
    today = today or date.today()
    cutoff = today - timedelta(days=older_than_days)
    released = releases.current_by_period(con)
    due = [p for p in released if Period.parse(p).end < cutoff]
    results = []
    for period in due:
        count = vault_rows.count_in_period(con, period)
        removed = 0
        for sid in submissions.ids_in_period(con, period):
            legacy = home.quarantine / sid / PAYLOAD  # kept in the clear by hubs before the vault
            if legacy.exists():
                legacy.unlink()
                removed += 1
        with transaction(con):
            vault_rows.delete_period(con, period)
            removed += quarantine.delete_period(con, period)
            purged = submissions.mark_purged(con, period, datetime.now(UTC))
            audit.record(
                con,
                [
                    audit.Event(
                        actor,
                        "purged",
                        period,
                        {
                            "rows": count,
                            "submissions": len(purged),
                            "quarantined_files": removed,
                            "older_than_days": older_than_days,
                        },
                    )
                ],
            )
        results.append(Purged(period, count, len(purged), removed))
        sync_receipts(home, con, purged)
    if results:
        con.execute("CHECKPOINT")
    return results
