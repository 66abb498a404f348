"""The row tables' SQL: ``episodes`` and ``assessments``, the only individual-level data the hub holds.

Row tables are generated from the contracts (see :mod:`pipelines.hub.vault.schema`)
and keep the rows of every submission that passed validation, tagged with their
submission. Releases read only the ``current_<dataset>`` views; intake reads the
staged rows and the rows that will be current once they are promoted.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from pipelines.db import registered
from pipelines.hub.vault.statuses import SubmissionStatus
from pipelines.standard.contract import DATASETS, Contract

_SQL_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "date": "DATE", "boolean": "BOOLEAN"}
ROW_KEYS = ("submission_id", "ngo_id", "period")


def row_columns(contract: Contract) -> list[tuple[str, str]]:
    """(name, SQL type) of a row table: who/when, the contract's columns, the NGO's row number."""
    keys = [(k, "VARCHAR") for k in ROW_KEYS]
    body = [(c.name, _SQL_TYPES[c.logical_type]) for c in contract.columns]
    return [*keys, *body, ("source_row", "INTEGER")]


def create_table_sql(table: str, contract: Contract, *, if_not_exists: bool = True) -> str:
    columns = ", ".join(f'"{n}" {t}' for n, t in row_columns(contract))
    guard = "IF NOT EXISTS " if if_not_exists else ""
    return f"CREATE TABLE {guard}{table} ({columns})"


def current_view_sql(dataset: str) -> str:
    """The rows of each NGO-period's current submission: all a release ever reads."""
    return (
        f"CREATE OR REPLACE VIEW current_{dataset} AS SELECT r.* FROM {dataset} r "
        "JOIN current_submissions s USING (submission_id)"
    )


def staged(dataset: str, *, with_submitted_on: bool = False) -> str:
    """A SQL relation: rows of ``dataset`` whose submission is staged (optionally with the date
    the NGO submitted it, which date rules are checked against)."""
    extra = ", s.submitted_on" if with_submitted_on else ""
    return (
        f"(SELECT r.*{extra} FROM {dataset} r JOIN submissions s USING (submission_id) "
        f"WHERE s.status = '{SubmissionStatus.STAGED}')"
    )


def after_promotion(dataset: str) -> str:
    """A SQL relation: the rows of ``dataset`` that will be current once the staged
    submissions are promoted (staged rows replace their NGO-period's current rows)."""
    rows = staged(dataset)
    return (
        f"(SELECT * FROM {rows} UNION ALL SELECT c.* FROM current_{dataset} c ANTI JOIN "
        f"(SELECT DISTINCT ngo_id, period FROM {rows}) USING (ngo_id, period))"
    )


def insert(
    con: duckdb.DuckDBPyConnection, contract: Contract, relation: str, params: object = None
) -> None:
    """Append the rows of ``relation`` (which has every row column) to the contract's table."""
    names = ", ".join(f'"{n}"' for n, _ in row_columns(contract))
    con.execute(f"INSERT INTO {contract.dataset} ({names}) SELECT {names} FROM {relation}", params)


def delete_submissions(
    con: duckdb.DuckDBPyConnection, dataset: str, submission_ids: Sequence[str]
) -> None:
    """Delete every row of these submissions (a re-sent file replaces its own archived rows)."""
    with registered(con, pd.DataFrame({"id": list(submission_ids)}, dtype="str")) as ids:
        con.execute(f"DELETE FROM {dataset} WHERE submission_id IN (SELECT id FROM {ids})")


def count_in_period(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Rows of every dataset held for ``period`` (current, archived and staged)."""
    total = 0
    for dataset in DATASETS:
        row = con.execute(f"SELECT count(*) FROM {dataset} WHERE period = ?", [period]).fetchone()
        total += int(row[0]) if row else 0
    return total


def delete_period(con: duckdb.DuckDBPyConnection, period: str) -> None:
    """Delete every row of every dataset held for ``period``."""
    for dataset in DATASETS:
        con.execute(f"DELETE FROM {dataset} WHERE period = ?", [period])
