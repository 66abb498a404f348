"""The published zone anchors the audit log: removing its newest entries no longer goes unseen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dp_helpers import PERIOD, seed_home, small_sector

from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.vault import open_vault


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_verify_fails_when_the_newest_entries_are_cut_off(
    home: Home, run_cli: Callable[..., Any]
) -> None:
    """Tests that after a release (which publishes the audit log's head), `outcomes audit
    --verify` passes; that deleting the newest entries, which leaves a valid chain, makes it
    fail naming the published entry; and that audit.verify without an anchor cannot tell."""
    seed_home(home, *small_sector())
    assert run_cli("release", "--period", PERIOD, "--home", home.root).exit_code == 0
    intact = run_cli("audit", "--verify", "--home", home.root)
    assert intact.exit_code == 0, intact.output
    assert "as last published" in intact.output

    with open_vault(home).connect() as con:
        head = audit.head(con)
        assert head is not None
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [head[0] - 1])
        assert audit.verify(con) is None  # the shortened chain is still a valid chain
        assert audit.verify(con, head) == head[0]

    cut = run_cli("audit", "--verify", "--home", home.root)
    assert cut.exit_code == 1
    assert f"entry {head[0]}" in cut.output
    assert "cut short" in cut.output
