"""``outcomes purge``: individual-level rows of released, old periods go; releases stay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dp_helpers import load_rows, register_ngos, small_sector

from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.vault import open_vault
from pipelines.standard.periods import Period

OLD_RELEASED, OLD_UNRELEASED, RECENT_RELEASED = "2025-Q1", "2025-Q2", "2025-Q3"


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _rows(home: Home) -> dict[str, int]:
    with open_vault(home).connect() as con:
        return dict(
            con.execute(
                "SELECT period, count(*) FROM (SELECT period FROM episodes UNION ALL "
                "SELECT period FROM assessments) GROUP BY 1"
            ).fetchall()
        )


def test_purge_deletes_rows_of_released_old_periods_only(
    home: Home, run_cli: Callable[..., Any], files_under: Callable[[Path], dict[str, str]]
) -> None:
    """Tests that `outcomes purge --older-than DAYS --yes` deletes the vault rows of a period
    that is released and ended more than DAYS ago, keeps those of an old period that was never
    released and of a released period that is too recent, records the purge in the audit log
    and leaves the published zone (releases, cells, exports) byte for byte as it was."""
    sectors = {
        p: small_sector(seed=len(p) + int(p[-1]))
        for p in (OLD_RELEASED, OLD_UNRELEASED, RECENT_RELEASED)
    }
    register_ngos(home, (row["ngo_id"] for episodes, _ in sectors.values() for row in episodes))
    with open_vault(home).connect() as con:
        for period, rows in sectors.items():
            load_rows(con, *rows, period=period)
    for period in (OLD_RELEASED, RECENT_RELEASED):
        result = run_cli("release", "--period", period, "--yes", "--home", home.root)
        assert result.exit_code == 0, result.output
    before_rows = _rows(home)
    published_before = files_under(home.published)
    assert set(before_rows) == {OLD_RELEASED, OLD_UNRELEASED, RECENT_RELEASED}

    days = (date.today() - Period.parse(RECENT_RELEASED).end).days + 5
    result = run_cli(
        "purge", "--older-than", str(days), "--yes", "--by", "steward", "--home", home.root
    )
    assert result.exit_code == 0, result.output
    assert f"Purged {OLD_RELEASED}" in result.output

    after_rows = _rows(home)
    assert OLD_RELEASED not in after_rows
    assert after_rows[OLD_UNRELEASED] == before_rows[OLD_UNRELEASED]
    assert after_rows[RECENT_RELEASED] == before_rows[RECENT_RELEASED]
    with open_vault(home).connect() as con:
        statuses = dict(
            con.execute(
                "SELECT period, string_agg(DISTINCT status) FROM submissions GROUP BY 1"
            ).fetchall()
        )
        purges = audit.entries(con, action="purged")
        releases = con.execute("SELECT period, status FROM releases ORDER BY 1").fetchall()
    assert statuses == {
        OLD_RELEASED: "purged",
        OLD_UNRELEASED: "accepted",
        RECENT_RELEASED: "accepted",
    }
    assert [e["subject"] for e in purges] == [OLD_RELEASED]
    assert purges[0]["actor"] == "steward"
    assert purges[0]["detail"]["rows"] == before_rows[OLD_RELEASED]
    assert purges[0]["detail"]["older_than_days"] == days
    assert json.dumps(purges[0]["detail"])  # counts only: nothing row-level in the entry
    assert releases == [(OLD_RELEASED, "current"), (RECENT_RELEASED, "current")]
    assert files_under(home.published) == published_before

    # A purged period has nothing left to release, and asking leaves the published zone alone.
    again = run_cli("release", "--period", OLD_RELEASED, "--yes", "--home", home.root)
    assert again.exit_code == 0
    assert "Nothing to release" in again.output
    assert files_under(home.published) == published_before


def test_a_dry_run_says_what_would_go_and_after_a_purge_status_says_rows_were_purged(
    home: Home, run_cli: Callable[..., Any]
) -> None:
    """Tests that `outcomes purge --dry-run` names each period and how many rows and
    submissions would go, deleting nothing; that after the purge `outcomes status` says the
    period's rows were purged (not that nothing was submitted); and that what the ledger and the
    audit log need stays: budgets, spends and the rolling year, and a verifiable audit log."""
    with open_vault(home).connect() as con:
        for period in (OLD_RELEASED, RECENT_RELEASED):
            load_rows(con, *small_sector(), period=period)
    for period in (OLD_RELEASED, RECENT_RELEASED):
        result = run_cli("release", "--period", period, "--yes", "--home", home.root)
        assert result.exit_code == 0, result.output
    rows = _rows(home)
    days = (date.today() - Period.parse(RECENT_RELEASED).end).days + 5
    show_before = run_cli("budget", "show", "--home", home.root).output

    dry = run_cli("purge", "--older-than", str(days), "--dry-run", "--home", home.root)
    assert dry.exit_code == 0, dry.output
    text = " ".join(dry.output.split())
    assert f"Would purge {OLD_RELEASED}: {rows[OLD_RELEASED]:,} rows of 4 submission(s)" in text
    assert RECENT_RELEASED not in text
    assert "Dry run: nothing was deleted." in text
    assert _rows(home) == rows

    done = run_cli("purge", "--older-than", str(days), "--yes", "--home", home.root)
    assert done.exit_code == 0, done.output
    status = run_cli("status", "--home", home.root)
    assert status.exit_code == 0, status.output
    said = " ".join(status.output.split())
    assert f"{OLD_RELEASED}: {rows[OLD_RELEASED]:,} rows of 4 submission(s) were purged on" in said
    assert "its releases stay published and its budgets and spends stay in the ledger" in said
    purged_rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in status.output.splitlines()
        if line.count("│") > 3 and OLD_RELEASED in line
    ]
    assert [r[5] for r in purged_rows] == ["2", "2"]  # the Purged column, per dataset

    assert run_cli("budget", "show", "--home", home.root).output == show_before
    again = run_cli("purge", "--older-than", str(days), "--dry-run", "--home", home.root)
    assert "Nothing to purge" in again.output
    verify = run_cli("audit", "--verify", "--home", home.root)
    assert verify.exit_code == 0, verify.output
