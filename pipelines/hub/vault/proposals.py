"""The ``release_proposals`` and ``release_approvals`` tables' SQL: releases waiting for a steward.

A proposal is what a release would use and spend, stored with the digest of
that description; an approval names the proposal and the digest the steward
saw. The release core spends only under an approval whose digest matches the
release it is about to make, and marks that proposal released in the same
transaction as the spends (see :mod:`pipelines.hub.release.approval`).
Statuses are :class:`ProposalStatus`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from pipelines.hub.vault.statuses import OPEN_PROPOSALS, ProposalStatus

_COLUMNS = (
    "proposal_id, period, kind, release_id, supersedes, digest, plan_digest, inputs, summary, "
    "proposed_at, proposed_by, status"
)


@dataclass(frozen=True)
class StoredProposal:
    """A proposal as the vault holds it (``summary`` is the JSON the proposal module reads)."""

    proposal_id: str
    period: str
    kind: str
    release_id: str
    supersedes: str | None
    digest: str
    plan_digest: str
    inputs: tuple[str, ...]
    summary: Mapping[str, Any]
    proposed_at: datetime
    proposed_by: str
    status: ProposalStatus


@dataclass(frozen=True)
class StoredApproval:
    """A steward's approval of one proposal, as the vault holds it."""

    proposal_id: str
    digest: str
    approved_by: str
    approved_at: datetime


def _proposal(row: Sequence[Any]) -> StoredProposal:
    pid, period, kind, rid, sup, digest, plan_digest, inputs, summary, at, by, status = row
    return StoredProposal(
        str(pid),
        str(period),
        str(kind),
        str(rid),
        None if sup is None else str(sup),
        str(digest),
        str(plan_digest),
        tuple(str(i) for i in inputs),
        json.loads(summary) if isinstance(summary, str) else dict(summary),
        at,
        str(by),
        ProposalStatus(status),
    )


def get(con: duckdb.DuckDBPyConnection, proposal_id: str) -> StoredProposal | None:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM release_proposals WHERE proposal_id = ?", [proposal_id]
    ).fetchone()
    return _proposal(row) if row else None


def open_for(con: duckdb.DuckDBPyConnection, period: str) -> list[StoredProposal]:
    """The period's proposals still waiting or approved, newest first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM release_proposals WHERE period = ? AND list_contains(?, status) "
        "ORDER BY proposed_at DESC, proposal_id DESC",
        [period, [str(s) for s in OPEN_PROPOSALS]],
    ).fetchall()
    return [_proposal(r) for r in rows]


def waiting(con: duckdb.DuckDBPyConnection) -> list[StoredProposal]:
    """Every proposal waiting for a steward, oldest period first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM release_proposals WHERE status = ? ORDER BY period, proposed_at",
        [ProposalStatus.WAITING],
    ).fetchall()
    return [_proposal(r) for r in rows]


def next_id(con: duckdb.DuckDBPyConnection, period: str) -> str:
    """``<period>-p<n>``: proposals of a period are numbered in the order they are made."""
    row = con.execute(
        "SELECT count(*) FROM release_proposals WHERE period = ?", [period]
    ).fetchone()
    return f"{period}-p{int(row[0] if row else 0) + 1}"


def approval_for(con: duckdb.DuckDBPyConnection, period: str, digest: str) -> StoredApproval | None:
    """The approval in force for a release of ``period`` with this digest, if a steward gave one."""
    row = con.execute(
        "SELECT a.proposal_id, a.digest, a.approved_by, a.approved_at FROM release_approvals a "
        "JOIN release_proposals p USING (proposal_id) "
        "WHERE p.period = ? AND p.status = ? AND a.digest = ? AND p.digest = a.digest",
        [period, ProposalStatus.APPROVED, digest],
    ).fetchone()
    return StoredApproval(str(row[0]), str(row[1]), str(row[2]), row[3]) if row else None


def approval_of(con: duckdb.DuckDBPyConnection, proposal_id: str) -> StoredApproval | None:
    row = con.execute(
        "SELECT proposal_id, digest, approved_by, approved_at FROM release_approvals "
        "WHERE proposal_id = ?",
        [proposal_id],
    ).fetchone()
    return StoredApproval(str(row[0]), str(row[1]), str(row[2]), row[3]) if row else None


# --- writing (inside the caller's transaction) -----------------------------------------------


def insert(
    con: duckdb.DuckDBPyConnection,
    *,
    proposal_id: str,
    period: str,
    kind: str,
    release_id: str,
    supersedes: str | None,
    digest: str,
    plan_digest: str,
    inputs: Sequence[str],
    summary: Mapping[str, Any],
    at: datetime,
    by: str,
) -> None:
    con.execute(
        "INSERT INTO release_proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?::VARCHAR[], ?, ?, ?, ?, ?)",
        [
            proposal_id,
            period,
            kind,
            release_id,
            supersedes,
            digest,
            plan_digest,
            list(inputs),
            json.dumps(summary, sort_keys=True),
            at,
            by,
            ProposalStatus.WAITING,
            at,
        ],
    )


def set_status(
    con: duckdb.DuckDBPyConnection, proposal_id: str, status: ProposalStatus, at: datetime
) -> None:
    con.execute(
        "UPDATE release_proposals SET status = ?, status_at = ? WHERE proposal_id = ?",
        [status, at, proposal_id],
    )


def replace_open(
    con: duckdb.DuckDBPyConnection, period: str, at: datetime, *, keep: str | None = None
) -> list[str]:
    """Mark the period's waiting and approved proposals (but ``keep``) replaced; return their ids."""
    return [
        str(p)
        for (p,) in con.execute(
            "UPDATE release_proposals SET status = ?, status_at = ? WHERE period = ? "
            "AND list_contains(?, status) AND proposal_id <> ? RETURNING proposal_id",
            [ProposalStatus.REPLACED, at, period, [str(s) for s in OPEN_PROPOSALS], keep or ""],
        ).fetchall()
    ]


def record_approval(
    con: duckdb.DuckDBPyConnection, *, proposal_id: str, digest: str, by: str, at: datetime
) -> None:
    con.execute("INSERT INTO release_approvals VALUES (?, ?, ?, ?)", [proposal_id, digest, by, at])
