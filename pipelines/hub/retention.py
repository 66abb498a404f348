"""Retention: individual-level rows of released periods are deleted when they are old enough.

Purging deletes vault rows (current and superseded submissions, staged rows)
and quarantined data files of periods that have a current release and ended
more than the given number of days ago. Submission records keep their hashes
and counts (status ``purged``); published releases are untouched; the audit
log records what was purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from pipelines.home import Home
from pipelines.hub import audit
from pipelines.ngo.handover import PAYLOAD
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
    released = [
        p
        for (p,) in con.execute(
            "SELECT DISTINCT period FROM releases WHERE status = 'current' ORDER BY period"
        ).fetchall()
    ]
    due = [p for p in released if Period.parse(p).end < cutoff]
    results = []
    for period in due:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM episodes WHERE period = $p) + "
            "(SELECT count(*) FROM assessments WHERE period = $p)",
            {"p": period},
        ).fetchone()
        rows = int(counts[0]) if counts else 0
        ids = [
            s
            for (s,) in con.execute(
                "SELECT submission_id FROM submissions WHERE period = ?", [period]
            ).fetchall()
        ]
        removed = 0
        for sid in ids:
            payload = home.quarantine / sid / PAYLOAD
            if payload.exists():
                payload.unlink()
                removed += 1
        con.execute("BEGIN")
        for table in ("episodes", "assessments"):
            con.execute(f"DELETE FROM {table} WHERE period = ?", [period])
        purged = con.execute(
            "UPDATE submissions SET status = 'purged', decided_at = ? WHERE period = ? "
            "AND status IN ('accepted', 'superseded', 'staged') RETURNING submission_id",
            [datetime.now(UTC), period],
        ).fetchall()
        audit.record(
            con,
            [
                audit.Event(
                    actor,
                    "purged",
                    period,
                    {
                        "rows": rows,
                        "submissions": len(purged),
                        "quarantined_files": removed,
                        "older_than_days": older_than_days,
                    },
                )
            ],
        )
        con.execute("COMMIT")
        results.append(Purged(period, rows, len(purged), removed))
    if results:
        con.execute("CHECKPOINT")
    return results
