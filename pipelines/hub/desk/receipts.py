"""Receipts: every upload the hub took, from whom and when, and what intake made of it.

A receipt is written once its payload is on disk in the inbox, in the same
SQLite transaction as its journal entry; the NGO it names is the one whose
token made the upload, and its time is the hub's own clock (a later receipt
wins when two submissions of one NGO, period and dataset are taken in
together). After each intake the statuses and the hub's reports are copied
here from the vault, so the API can answer while the vault is busy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipelines.hub.desk import journal
from pipelines.hub.desk.store import writing
from pipelines.standard.api import Receipt, ReceiptStatus, Submission

_RECEIPT = "submission_id, ngo_id, period, dataset, sha256, bytes, received_at"
_ALL = f"{_RECEIPT}, status, reason, report"


def _receipt(row: Iterable[Any]) -> Receipt:
    sid, ngo, period, dataset, sha, size, at = row
    return Receipt(
        submission_id=sid,
        ngo_id=ngo,
        period=period,
        dataset=dataset,
        sha256=sha,
        bytes=int(size),
        received_at=at,
    )


def _submission(row: tuple[Any, ...]) -> Submission:
    receipt = _receipt(row[:7])
    status, reason, report = row[7:]
    return Submission(
        **receipt.model_dump(),
        status=status,
        reason=reason,
        report=json.loads(report) if report else None,
    )


_ARRIVES_AGAIN = ("refused", "superseded")
"""Statuses after which the same submission sent again is a new arrival: the NGO going back to a
superseded file, or sending a refused one again once what it lacked (its episodes) is there."""


def held(con: sqlite3.Connection, submission_id: str) -> Receipt | None:
    """The receipt of a submission the hub holds (waiting for intake, current or purged): the
    same bytes sent again get this receipt, and nothing new is written."""
    marks = ", ".join("?" for _ in _ARRIVES_AGAIN)
    row = con.execute(
        f"SELECT {_RECEIPT} FROM receipts WHERE submission_id = ? AND status NOT IN ({marks})",
        [submission_id, *_ARRIVES_AGAIN],
    ).fetchone()
    return _receipt(row) if row else None


def known(con: sqlite3.Connection, submission_id: str) -> bool:
    row = con.execute("SELECT 1 FROM receipts WHERE submission_id = ?", [submission_id])
    return row.fetchone() is not None


def record(con: sqlite3.Connection, receipt: Receipt, *, actor: str) -> tuple[Receipt, bool]:
    """Record the receipt of an upload now on disk: (receipt, True) when new, or the receipt
    given the first time the same submission (same NGO, period, dataset and bytes) arrived.
    A submission the hub had refused or superseded arrives again: its receipt is renewed."""
    with writing(con):
        row = con.execute(
            f"SELECT {_ALL} FROM receipts WHERE submission_id = ?", [receipt.submission_id]
        ).fetchone()
        if row is not None and row[7] not in _ARRIVES_AGAIN:
            return _receipt(row[:7]), False
        con.execute(
            "INSERT OR REPLACE INTO receipts "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'received', NULL, NULL, ?)",
            [
                receipt.submission_id,
                receipt.ngo_id,
                receipt.period,
                receipt.dataset,
                receipt.sha256,
                receipt.bytes,
                receipt.received_at,
                receipt.received_at,
            ],
        )
        journal.record(
            con,
            actor,
            "received",
            receipt.submission_id,
            {
                "ngo_id": receipt.ngo_id,
                "period": receipt.period,
                "dataset": receipt.dataset,
                "sha256": receipt.sha256,
                "bytes": receipt.bytes,
                "again_after": row[7] if row is not None else None,
            },
        )
        return receipt, True


def received_at(con: sqlite3.Connection, submission_id: str) -> str | None:
    row = con.execute(
        "SELECT received_at FROM receipts WHERE submission_id = ?", [submission_id]
    ).fetchone()
    return str(row[0]) if row else None


def of_ngo(con: sqlite3.Connection, ngo_id: str, period: str | None = None) -> list[Submission]:
    """The NGO's own submissions, oldest first (only ever its own)."""
    where, params = "ngo_id = ?", [ngo_id]
    if period:
        where += " AND period = ?"
        params.append(period)
    return [
        _submission(r)
        for r in con.execute(
            f"SELECT {_ALL} FROM receipts WHERE {where} ORDER BY received_at, submission_id", params
        )
    ]


def one(con: sqlite3.Connection, ngo_id: str, submission_id: str) -> Submission | None:
    """The submission, only if it is the NGO's own."""
    row = con.execute(
        f"SELECT {_ALL} FROM receipts WHERE submission_id = ? AND ngo_id = ?",
        [submission_id, ngo_id],
    ).fetchone()
    return _submission(row) if row else None


def update_statuses(
    con: sqlite3.Connection, decided: Mapping[str, tuple[ReceiptStatus, str | None, str | None]]
) -> int:
    """Copy the hub's decisions (submission id -> status, reason, report JSON) onto their
    receipts; return how many changed. Submissions the desk never received are left alone."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with writing(con):
        before = con.total_changes
        con.executemany(
            "UPDATE receipts SET status = ?, reason = ?, report = coalesce(?, report), "
            "updated_at = ? WHERE submission_id = ? "
            "AND (status <> ? OR coalesce(reason, '') <> coalesce(?, '') OR ? IS NOT NULL)",
            [
                [status, reason, report, now, sid, status, reason, report]
                for sid, (status, reason, report) in decided.items()
            ],
        )
        return con.total_changes - before
