"""Telling the desk what the hub decided: each submission's status and the hub's report.

Run after every intake and purge; copying is idempotent (the vault's records
are the truth), so a crash between the vault's commit and this copy is
mended by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb

from pipelines.home import Home
from pipelines.hub.desk import receipts
from pipelines.hub.desk.store import desk_path, opened
from pipelines.hub.vault import submissions
from pipelines.hub.vault.statuses import SubmissionStatus
from pipelines.standard.api import ReceiptStatus

_SEEN_AS: dict[SubmissionStatus, ReceiptStatus] = {
    SubmissionStatus.STAGED: "received",
    SubmissionStatus.ACCEPTED: "accepted",
    SubmissionStatus.SUPERSEDED: "superseded",
    SubmissionStatus.REFUSED: "refused",
    SubmissionStatus.PURGED: "purged",
}
"""How each vault status reads to the NGO (a staged submission is still being taken in)."""


def _report(home: Home, sid: str, status: SubmissionStatus, rows: int | None) -> str | None:
    """The hub's report as the NGO may read it: its report.json when refused (rules, counts,
    row numbers), a summary otherwise."""
    if status == SubmissionStatus.REFUSED:
        path = home.quarantine / sid / "report.json"
        return path.read_text(encoding="utf-8") if path.is_file() else None
    if status in (SubmissionStatus.ACCEPTED, SubmissionStatus.SUPERSEDED):
        return json.dumps({"stage": "hub", "status": "accepted", "rows": rows, "failures": []})
    return None


def sync_receipts(
    home: Home, con: duckdb.DuckDBPyConnection, ids: Iterable[str] | None = None
) -> int:
    """Copy the vault's decisions on ``ids`` (every submission when None) onto the desk's
    receipts; return how many receipts changed."""
    if not desk_path(home).exists():
        return 0
    rows = submissions.listing(con, ids=list(ids) if ids is not None else None)
    decided = {
        str(sid): (
            _SEEN_AS[SubmissionStatus(status)],
            reason,
            _report(home, str(sid), SubmissionStatus(status), n),
        )
        for sid, _ngo, _period, _dataset, status, n, reason in rows
    }
    with opened(home) as desk:
        return receipts.update_statuses(desk, decided)
