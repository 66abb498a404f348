"""Staging: a chunk's accepted rows and every verdict written to the vault in one transaction.

Staged rows sit in the row tables, but their submission's status keeps them
out of every release until promotion.
"""

from __future__ import annotations

import duckdb

from pipelines.db import transaction
from pipelines.hub.inbox import InboxItem
from pipelines.hub.intake.read import payloads
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus, record_verdicts
from pipelines.hub.vault import rows
from pipelines.standard.contract import Contract


def stage_rows(con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]) -> None:
    """Write the items' rows into the contract's table. A re-sent archived file replaces its own
    archived rows."""
    if not items:
        return
    rows.delete_submissions(con, contract.dataset, [i.submission_id for i in items])
    relation, params = payloads(items)
    rows.insert(con, contract, relation, params)


def stage_and_record(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    items: list[InboxItem],
    verdicts: list[Verdict],
    actor: str,
) -> None:
    """Stage a chunk's accepted rows and record every verdict, all or nothing."""
    accepted = {v.submission_id for v in verdicts if v.status == VerdictStatus.STAGED}
    with transaction(con):
        stage_rows(con, contract, [i for i in items if i.submission_id in accepted])
        record_verdicts(con, items, verdicts, actor)
