"""The one transaction helper, and the one definition of a current submission."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.db import registered, transaction

ROOT = Path(__file__).resolve().parents[3]


def _table() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    return con


def test_a_transaction_commits_when_its_block_ends() -> None:
    """Tests that rows written in the block are there afterwards."""
    con = _table()
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1), (2)")
    assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_a_transaction_rolls_back_on_any_error_an_interrupt_included(error: BaseException) -> None:
    """Tests that an exception, or a Ctrl-C, in the block leaves nothing written, re-raises the
    original error, and leaves the connection usable."""
    con = _table()

    def write_then_fail() -> None:
        with transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            raise error

    with pytest.raises(type(error)):
        write_then_fail()
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with transaction(con):
        con.execute("INSERT INTO t VALUES (3)")
    assert con.execute("SELECT x FROM t").fetchall() == [(3,)]


def test_a_registered_frame_is_gone_after_its_block() -> None:
    """Tests that a frame exposed to SQL is unregistered when its block ends."""
    import pandas as pd

    con = duckdb.connect()
    with registered(con, pd.DataFrame({"a": [1, 2]})) as name:
        assert con.execute(f"SELECT sum(a) FROM {name}").fetchone() == (3,)
    with pytest.raises(duckdb.CatalogException):
        con.execute(f"SELECT * FROM {name}")


def _grep(pattern: str) -> list[str]:
    found = subprocess.run(
        ["git", "grep", "-n", "-E", pattern, "--", "pipelines", "dashboards", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.splitlines()


def test_only_the_transaction_helper_says_begin_commit_or_rollback() -> None:
    """Tests that no module but pipelines/db.py begins, commits or rolls back by hand."""
    hits = _grep(r"[\"'](BEGIN|COMMIT|ROLLBACK)\b")
    assert [h for h in hits if not h.startswith("pipelines/db.py:")] == []


def test_a_current_submission_is_defined_in_one_place() -> None:
    """Tests that what "current" means (status accepted) is written once, in the vault's
    submissions module, and read everywhere else through its view."""
    hits = _grep(re.escape("status = 'accepted'"))
    assert len(hits) == 1
    assert hits[0].startswith("pipelines/hub/vault/submissions.py:")
