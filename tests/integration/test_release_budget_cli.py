"""``outcomes budget set`` refuses impossible budgets; ``outcomes budget plan`` answers both ways
and spends nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dp_helpers import PERIOD, seed_home, small_sector

from pipelines.home import Home
from pipelines.hub.vault import open_vault
from pipelines.privacy.mechanisms import calibrate, halfwidth_95
from pipelines.privacy.plan import default_plan
from pipelines.privacy.planner import halfwidth

Cli = Callable[..., Any]


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hub(home: Home) -> Home:
    seed_home(home, *small_sector())
    return home


def _budget_rows(home: Home) -> list[tuple[Any, ...]]:
    with open_vault(home).connect() as con:
        return con.execute(
            "SELECT 'budget', period, ngo_id, rho FROM budgets UNION ALL "
            "SELECT 'spend', period, ngo_id, rho FROM spends UNION ALL "
            "SELECT 'audit', action, subject, NULL FROM audit_log ORDER BY 1, 2, 3"
        ).fetchall()


@pytest.mark.parametrize(
    ("rho", "message"),
    [
        ("-1", r"rho must be positive and finite, got -1\.0"),
        ("0", r"rho must be positive and finite, got 0\.0"),
        ("nan", r"rho must be a number, got nan"),
        ("inf", r"rho must be positive and finite, got inf"),
        ("1e6", r"rho 1e\+06 is above the plan's limit of 10"),
        ("1e-30", r"rho 1e-30 is below the plan's floor of 0\.0001.*Set at least 0\.0001"),
        ("1e-320", r"rho 9\.99989e-321 is below the plan's floor of 0\.0001"),
    ],
    ids=["negative", "zero", "nan", "infinite", "absurd", "tiny", "subnormal"],
)
def test_an_impossible_budget_is_refused_naming_the_value(
    hub: Home, run_cli: Cli, rho: str, message: str
) -> None:
    """Tests that a negative, zero, NaN, infinite, absurd (above the plan's max_rho) or tiny
    (below its min_rho, whose noise's accuracy OpenDP cannot compute quickly) budget is refused
    with a non-zero exit and a message naming the value, and changes nothing (no budget row, no
    audit entry)."""
    before = _budget_rows(hub)
    for target in (("--default",), ("--ngo", "ngo-aroha")):
        result = run_cli(
            "budget", "set", *target, "--period", PERIOD, "--rho", rho, "--home", hub.root
        )
        assert result.exit_code != 0
        assert re.search(message, " ".join(result.output.split())), result.output
    assert _budget_rows(hub) == before


def _rows_by_plan_id(output: str) -> dict[str, list[str]]:
    """The rows of the rich tables the planner prints: plan id (the last cell) -> the cells."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) >= 3 and re.fullmatch(r"[a-z_]+", cells[-1]):
            rows[cells[-1]] = cells[:-1]
    return rows


def test_budget_plan_shows_the_halfwidths_a_release_would_have(
    hub: Home, run_cli: Cli, files_under: Callable[[Path], dict[str, str]]
) -> None:
    """Tests that `outcomes budget plan --rho R` shows, for every count measure, the 95%
    half-width of the discrete Gaussian a release at R would calibrate, in the measure's own
    unit and never in scientific notation, and that planning writes nothing anywhere in the
    hub (ledger, audit log and files unchanged)."""
    plan = default_plan()
    before = files_under(hub.root)
    result = run_cli("budget", "plan", "--rho", "0.5", "--home", hub.root)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Nothing is spent" in text
    assert not re.search(r"\d[eE][+-]\d", text), "a number in scientific notation"
    rows = _rows_by_plan_id(result.output)
    counts = [m for m in plan.measures if m.statistic.kind == "count"]
    assert len(counts) > 10
    for m in counts:
        scale = calibrate(plan.sensitivity(m).l2, plan.share(m) * 0.5).scale
        unit = "sessions" if m.statistic.name == "sessions" else "clients"
        shown = f"± {halfwidth_95(scale):,.0f} {unit}"
        assert any(cell.startswith(shown) for cell in rows[m.id]), (m.id, shown, rows[m.id])
    assert files_under(hub.root) == before


def test_budget_plan_says_how_each_ngos_cells_would_be_flagged_by_size(
    hub: Home, run_cli: Cli
) -> None:
    """Tests that for NGOs of the sizes a steward states, the planner says how each per-NGO
    measure's cells would be flagged, that a bigger NGO never fares worse, and that a share's
    half-width never shows wider than the whole scale."""
    result = run_cli("budget", "plan", "--rho", "0.5", "--sizes", "20,5000", "--home", hub.root)
    assert result.exit_code == 0, result.output
    assert "NGO of 20 clients" in result.output
    assert "NGO of 5,000 clients" in result.output
    rank = {"ok": 0, "low": 1, "withheld": 2}
    rows = _rows_by_plan_id(result.output)
    per_ngo = {k: v for k, v in rows.items() if k.startswith("ngo_")}
    assert len(per_ngo) >= 8
    for measure, cells in per_ngo.items():
        small, big = (rank[c.split()[-1]] for c in cells[-2:])
        assert big <= small, (measure, cells)
    for cells in rows.values():
        for cell in cells:
            found = re.search(r"± ([\d.,]+) percentage points", cell)
            assert found is None or float(found.group(1).replace(",", "")) < 100
    refused = run_cli("budget", "plan", "--rho", "0.5", "--sizes", "0,x", "--home", hub.root)
    assert refused.exit_code != 0
    assert "--sizes" in refused.output


@pytest.mark.parametrize("target", ["5", "20"])
def test_budget_plan_answers_the_budget_for_a_target_halfwidth(
    hub: Home, run_cli: Cli, files_under: Callable[[Path], dict[str, str]], target: str
) -> None:
    """Tests the reverse question: for every measure counted in clients `outcomes budget plan
    --target clients=N` gives a rho at which the expected half-width is at most N, and at 0.9
    times that rho it is more than N; planning spends and writes nothing."""
    plan = default_plan()
    before = files_under(hub.root)
    result = run_cli(
        "budget", "plan", "--target", f"clients={target}", "--cell-size", "100", "--home", hub.root
    )
    assert result.exit_code == 0, result.output
    rows = _rows_by_plan_id(result.output)
    n = float(target)
    checked = 0
    for measure, cells in rows.items():
        shown = cells[3].split()[0]
        if shown == "beyond":
            continue
        rho = float(shown)
        assert halfwidth(plan, measure, rho, 100.0) <= n, (measure, rho)
        if rho > plan.min_rho:  # at the floor, less is not a budget anyone may set
            assert halfwidth(plan, measure, 0.9 * rho, 100.0) > n, (measure, rho)
        checked += 1
    assert checked >= 10
    assert files_under(hub.root) == before
    refused = run_cli("budget", "plan", "--target", "furlongs=3", "--home", hub.root)
    assert refused.exit_code != 0
    assert "clients, sessions, share, score, rate" in refused.output


def test_a_budget_for_an_ngo_nobody_registered_is_refused_saying_how_to_register(
    hub: Home, run_cli: Cli
) -> None:
    """Tests that `outcomes budget set --ngo ngo-9999` for an NGO the register does not know
    exits 1 with the `outcomes ngo register` command to run, and changes nothing."""
    before = _budget_rows(hub)
    result = run_cli(
        "budget", "set", "--ngo", "ngo-9999", "--period", PERIOD, "--rho", "0.5", "--home", hub.root
    )
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "ngo-9999 is not a registered NGO. Register it first with `outcomes ngo register" in said
    assert _budget_rows(hub) == before
