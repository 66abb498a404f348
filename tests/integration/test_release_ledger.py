"""Releases through ``outcomes release`` (the Dagster release job): the ledger, governance,
idempotency and the refusals that spend nothing.

Each test seeds an encrypted vault in its own home with two small NGOs' rows (accepted
submissions written straight into the vault) and drives the command line in-process.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from dp_helpers import (
    PERIOD,
    audit_actions,
    isolated,
    ledger,
    plan_doc,
    seed_home,
    small_sector,
    snapshot,
)

from pipelines.assets.resources import HubResource
from pipelines.assets.runs import run_release
from pipelines.home import Home
from pipelines.hub.ledger import ledger_totals
from pipelines.hub.published_checks import (
    cells_without_budget,
    cells_without_interval,
    ledger_differences,
)
from pipelines.hub.release import ReleaseError, propose_and_approve
from pipelines.hub.release import noise as release_noise
from pipelines.hub.release import run as release_run
from pipelines.hub.vault import open_vault
from pipelines.privacy.mechanisms import calibrate, charged_rho
from pipelines.privacy.plan import ReleasePlan, default_plan
from pipelines.privacy.postprocess import AWAITING_APPROVAL
from pipelines.published.store import DIMENSIONS, read_table

Cli = Callable[..., Any]
GOVERNED = "clients_by_ethnicity"


def _run(root: Path, *steps: tuple[str, ...]) -> Path:
    """Run CLI ``steps`` on the hub at ``root`` (each must succeed), isolated like a test."""
    from click.testing import CliRunner

    from pipelines.cli import main

    with isolated(root.parent):
        for step in steps:
            result = CliRunner().invoke(main, [*step, "--home", str(root)])
            assert result.exit_code == 0, result.output
    return root


APPROVE = (
    "approve", "--dimension", "ethnicity", "--value", "maori", "--period", PERIOD,
    "--by", "Hine (governance group)", "--note", "approved at hui, minute 7",
)  # fmt: skip
RELEASE = ("release", "--period", PERIOD, "--yes")


@pytest.fixture(scope="module")
def released_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub (built once per module) whose period was released with the default budget."""
    root = tmp_path_factory.mktemp("released") / "home"
    with isolated(root.parent):
        seed_home(Home(root), *small_sector())
    return _run(root, RELEASE)


@pytest.fixture(scope="module")
def released_and_approved(released_once: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub whose period was released, then its Māori-data cells approved and added."""
    root = tmp_path_factory.mktemp("approved") / "home"
    shutil.copytree(released_once, root)
    return _run(root, APPROVE, RELEASE)


def _copy(source: Path, tmp_path: Path) -> Home:
    """A test's own copy of a prepared hub (vault, key, ledger, published zone, Dagster home)."""
    target = tmp_path / "hub-copy"
    shutil.copytree(source, target)
    return Home(target)


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _cli(run_cli: Cli, home: Home) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return run_cli(*args, "--home", home.root)

    return run


def _vault_state(home: Home) -> tuple[dict[str, int], dict[tuple[str, str], float]]:
    with open_vault(home).connect() as con:
        return dict(snapshot(con)), ledger(con)


def _changed_plan(hub: Home, tmp_path: Path) -> HubResource:
    """The hub resource of ``hub`` with a changed copy of the plan (clients_total weighs 2)."""
    doc = plan_doc()
    doc["measures"][0]["weight"] = 2
    path = tmp_path / "release_plan.v1.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return HubResource(home=str(hub.root), plan_file=str(path))


def _approve(hub: Home, resource: HubResource, *, supersede: bool = False) -> None:
    """A steward approves what releasing PERIOD under the resource's plan would do now."""
    with open_vault(hub).connect() as con:
        propose_and_approve(con, resource.plan(), PERIOD, by="steward", supersede=supersede)


def _governed_rho(plan: ReleasePlan, rho: float, measure: str | None = None) -> float:
    """What the Māori-data components cost each NGO: of ``measure``, or of every measure."""
    measures = [plan.measure(measure)] if measure else plan.measures
    return sum(
        calibrate(plan.sensitivity(m).l2, plan.share(m) * rho).rho
        * sum(c.governed for c in plan.components(m))
        for m in measures
    )


def _governed_parts(plan: ReleasePlan) -> list[tuple[str]]:
    """The part ids of every Māori-data component (all pooled), sorted."""
    return sorted(
        (f"{m.id}:{c}:pooled",) for m in plan.measures for c in plan.components(m) if c.governed
    )


def _full_rho(plan: ReleasePlan, rho: float) -> float:
    """What one release of every component costs each NGO at budget ``rho``."""
    return sum(
        calibrate(plan.sensitivity(m).l2, plan.share(m) * rho).rho * len(plan.components(m))
        for m in plan.measures
    )


def _cells(home: Home, measure: str | None = None) -> pd.DataFrame:
    where = "is_current" + (" AND measure = ?" if measure else "")
    cells = read_table(home.published_db, "cells", where, [measure] if measure else [])
    return (
        cells.drop(columns=["is_current"])
        .sort_values(["measure", "ngo_id", *DIMENSIONS])
        .reset_index(drop=True)
    )


def test_the_ledger_is_the_sum_of_every_release_spend(
    released_and_approved: Path, run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests composition after a release, an approval addendum and a superseding release:
    per NGO and period the ledger's total equals the sum of every published release's spend,
    the published-zone check finds no difference, every ledger rho is OpenDP's own privacy map
    recomputed from the stored scale and sensitivity, and no NGO exceeds its budget."""
    hub = _copy(released_and_approved, tmp_path)  # released, approved, addendum released
    cli = _cli(run_cli, hub)
    assert cli("budget", "set", "--default", "--period", PERIOD, "--rho", "1.0").exit_code == 0
    changed = _changed_plan(hub, tmp_path)
    _approve(hub, changed, supersede=True)
    assert run_release(hub, PERIOD, supersede=True, hub=changed).spent

    with open_vault(hub).connect() as con:
        assert ledger_differences(con, hub.published_db) == {}
        totals = ledger_totals(con)
        parts = con.execute("SELECT * FROM release_parts").df()
        spends = con.execute("SELECT * FROM spends").df()
        assert audit_actions(con).count("release") == 2
        assert audit_actions(con).count("release_addendum") == 1
    published = read_table(hub.published_db, "spends")
    releases = read_table(hub.published_db, "releases").set_index("release_id")
    assert releases["status"].to_dict() == {"2025-Q3-r1": "superseded", "2025-Q3-r2": "current"}
    by_ngo = published.groupby(["period", "ngo_id"])["rho"].sum()
    assert len(totals) == 2
    for row in totals.itertuples():
        assert math.isclose(by_ngo[(row.period, row.ngo_id)], row.rho, rel_tol=1e-12)
        assert row.rho <= 1.0 * (1 + 1e-9)
        # both releases are in the ledger: r1 with its addendum spent the first 0.5 ...
        mine = published[published["ngo_id"] == row.ngo_id].set_index("release_id")["rho"]
        assert math.isclose(mine["2025-Q3-r1"], 0.5, rel_tol=1e-9)
        # ... and the superseding release spent the 0.5 the raise added.
        assert math.isclose(mine["2025-Q3-r2"], 0.5, rel_tol=1e-9)
    for part in parts.itertuples():
        assert part.rho == charged_rho(part.noise_scale, part.l2_sensitivity), part.part_id
    merged = spends.merge(parts, on=["release_id", "part_id"], suffixes=("", "_part"))
    assert len(merged) == len(spends)
    assert (merged["rho"] == merged["rho_part"]).all()
    pooled = merged[merged["scope"] == "pooled"].groupby(["release_id", "part_id"])["ngo_id"]
    assert (pooled.nunique() == 2).all()  # pooled parts charge every contributing NGO
    assert cells_without_interval(hub.published_db) == 0
    assert cells_without_budget(hub.published_db) == 0


def test_releasing_twice_spends_once_and_publishes_the_same_cells(
    released_once: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests idempotency: a second `outcomes release` of the same period with the same plan
    returns the stored release, spends nothing, says so in those words (not "Budget spent"),
    and publishes identical cells."""
    hub = _copy(released_once, tmp_path)
    cli = _cli(run_cli, hub)
    first_cells, first_state = _cells(hub), _vault_state(hub)
    again = cli("release", "--period", PERIOD, "--yes")
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert f"{PERIOD} was already released as {PERIOD}-r1: this run spent nothing" in said
    assert "Budget spent" not in said
    assert _vault_state(hub) == first_state
    pd.testing.assert_frame_equal(_cells(hub), first_cells)
    plan = default_plan()
    once = _full_rho(plan, plan.default_rho) - _governed_rho(plan, plan.default_rho)
    assert all(math.isclose(v, once, rel_tol=1e-12) for v in first_state[1].values())
    with open_vault(hub).connect() as con:
        assert audit_actions(con).count("release") == 1


def test_maori_data_cells_wait_for_approval_and_spend_nothing_until_then(
    released_once: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests governance: without approval, ethnicity=maori cells are withheld with the
    governance reason and cost nothing (rho 0; each NGO's spend is short by exactly that
    component's share); an approval then `outcomes release` computes only those cells as an
    addendum, charging only their share and leaving every other cell as it was; a withdrawal
    withholds them again at the next publication without spending; both decisions are in the
    audit log."""
    plan = default_plan()
    hub = _copy(released_once, tmp_path)  # released without approval
    cli = _cli(run_cli, hub)
    maori = _cells(hub, GOVERNED)
    maori = maori[maori["ethnicity"] == "maori"]
    assert len(maori) == len(plan.key_sets["programme"])
    assert (maori["reliability"] == "withheld").all()
    assert (maori["withheld_reason"] == AWAITING_APPROVAL).all()
    assert (maori["rho"] == 0).all()
    assert maori["value"].isna().all()
    full, governed = _full_rho(plan, 0.5), _governed_rho(plan, 0.5)
    _, spent = _vault_state(hub)
    assert all(math.isclose(v, full - governed, rel_tol=1e-12) for v in spent.values())
    before = _cells(hub)

    approve = cli(*APPROVE)
    assert approve.exit_code == 0, approve.output
    assert cli("release", "--period", PERIOD, "--yes").exit_code == 0
    with open_vault(hub).connect() as con:
        new_parts = con.execute(
            "SELECT part_id FROM release_parts WHERE component <> 'open' AND component <> 'all' "
            "ORDER BY part_id"
        ).fetchall()
        assert new_parts == _governed_parts(plan)
        assert (f"{GOVERNED}:governed:ethnicity=maori:pooled",) in new_parts
        for (part,) in new_parts:
            cells = con.execute(
                "SELECT DISTINCT ethnicity FROM release_cells WHERE part_id = ?", [part]
            ).fetchall()
            assert cells == [("maori",)]
    _, after = _vault_state(hub)
    for key, value in after.items():
        assert math.isclose(value - spent[key], governed, rel_tol=1e-9)
    approved = _cells(hub)
    shown = approved[(approved["measure"] == GOVERNED) & (approved["ethnicity"] == "maori")]
    assert (shown["withheld_reason"] != AWAITING_APPROVAL).all()
    assert (shown["rho"] == _governed_rho(plan, 0.5, GOVERNED)).all()
    others = approved["ethnicity"] != "maori"
    pd.testing.assert_frame_equal(approved[others], before[others])

    withdraw = cli(
        "withdraw", "--dimension", "ethnicity", "--value", "maori", "--period", PERIOD,
        "--by", "Hine (governance group)", "--note", "withdrawn at hui, minute 12",
    )  # fmt: skip
    assert withdraw.exit_code == 0, withdraw.output
    state = _vault_state(hub)
    assert cli("release", "--period", PERIOD, "--yes").exit_code == 0
    assert _vault_state(hub) == state
    again = _cells(hub, GOVERNED)
    again = again[again["ethnicity"] == "maori"]
    assert (again["withheld_reason"] == AWAITING_APPROVAL).all()
    assert again["value"].isna().all()
    with open_vault(hub).connect() as con:
        actions = audit_actions(con)
    assert "governance_approve" in actions
    assert "governance_withdraw" in actions
    assert actions.index("governance_approve") < actions.index("governance_withdraw")


def test_a_period_without_accepted_submissions_has_nothing_to_release(
    home: Home, run_cli: Cli
) -> None:
    """Tests that releasing a period with no accepted submissions says "Nothing to release",
    exits 0 and spends nothing (for a named period and for every period)."""
    seed_home(home, [], [])
    cli = _cli(run_cli, home)
    named = cli("release", "--period", "2025-Q4")
    assert named.exit_code == 0
    assert "Nothing to release for 2025-Q4" in named.output
    every = cli("release", "--yes")
    assert every.exit_code == 0
    assert "Nothing to release" in every.output
    assert _vault_state(home) == (dict.fromkeys(snapshot_tables(), 0), {})
    assert not home.published_db.exists()


def snapshot_tables() -> tuple[str, ...]:
    return ("releases", "release_parts", "release_cells", "spends", "release_inputs")


def test_a_release_over_budget_is_refused_before_any_mechanism(
    released_and_approved: Path, run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that a release the budget cannot pay for (a supersede after the whole budget was
    spent) is refused before any noise is drawn, says what each NGO has left and what the
    release asks, and spends nothing."""
    hub = _copy(released_and_approved, tmp_path)  # release and addendum: all 0.5 spent
    cli = _cli(run_cli, hub)
    state = _vault_state(hub)
    published = read_table(hub.published_db, "releases")

    def no_mechanism(*_args: object, **_kw: object) -> None:
        raise AssertionError("a mechanism ran for a release that was over budget")

    monkeypatch.setattr(release_noise, "add_noise", no_mechanism)
    refused = cli("release", "--period", PERIOD, "--supersede", "--yes")
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert "refused and nothing was spent" in text
    assert "ngo-aroha: budget rho 0.5, already spent 0.5, left 0" in text
    assert "this release asks" in text
    assert "outcomes budget set" in text
    assert _vault_state(hub) == state
    pd.testing.assert_frame_equal(read_table(hub.published_db, "releases"), published)


def test_a_changed_plan_needs_supersede_which_spends_again(
    released_once: Path, run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that releasing an already released period with a changed plan is refused with a
    message naming --supersede and spends nothing; with --supersede (and budget left) it
    releases again, spends again, and the ledger and published zone show both releases."""
    hub = _copy(released_once, tmp_path)
    cli = _cli(run_cli, hub)
    state = _vault_state(hub)
    changed = _changed_plan(hub, tmp_path)
    with pytest.raises(ReleaseError, match=r"another version of the release plan.*--supersede"):
        run_release(hub, PERIOD, hub=changed)
    assert _vault_state(hub) == state

    assert cli("budget", "set", "--default", "--period", PERIOD, "--rho", "1.0").exit_code == 0
    _approve(hub, changed, supersede=True)
    assert run_release(hub, PERIOD, supersede=True, hub=changed).spent
    with open_vault(hub).connect() as con:
        per_release = con.execute(
            "SELECT release_id, ngo_id, sum(rho) FROM spends GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        assert ledger_differences(con, hub.published_db) == {}
    assert [r[0] for r in per_release] == ["2025-Q3-r1"] * 2 + ["2025-Q3-r2"] * 2
    assert all(r[2] > 0.4 for r in per_release)
    releases = read_table(hub.published_db, "releases").set_index("release_id")
    assert releases.loc["2025-Q3-r1", "superseded_by"] == "2025-Q3-r2"
    assert releases.loc["2025-Q3-r2", "status"] == "current"


def test_a_supersede_that_would_be_noisier_is_refused_until_budgets_are_raised(
    released_once: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests that superseding a release without raising budgets is refused and spends nothing
    (the new release could only be calibrated on the small share left, kept for cells awaiting
    approval, and would be noisier than the one it replaces); the message names the budget to
    set, and after setting it the supersede goes ahead no less accurately."""
    hub = _copy(released_once, tmp_path)
    cli = _cli(run_cli, hub)
    state = _vault_state(hub)
    refused = cli("release", "--period", PERIOD, "--supersede", "--yes")
    text = " ".join(refused.output.split())
    assert refused.exit_code == 1
    assert "noisier than the one it replaces" in text
    assert "nothing was spent" in text
    assert _vault_state(hub) == state
    suggested = text.split("--rho ")[1].split("`")[0]

    assert cli("budget", "set", "--default", "--period", PERIOD, "--rho", suggested).exit_code == 0
    again = cli("release", "--period", PERIOD, "--supersede", "--yes")
    assert again.exit_code == 0, again.output
    with open_vault(hub).connect() as con:
        spent = dict(con.execute("SELECT release_id, max(rho) FROM spends GROUP BY 1").fetchall())
    assert spent["2025-Q3-r2"] >= spent["2025-Q3-r1"] * (1 - 1e-9)


def test_a_failure_inside_a_mechanism_burns_no_budget(
    home: Home, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that a release whose computation fails on real data (after a clean dry run)
    exits non-zero, leaves the ledger and the releases as they were and publishes nothing;
    the next run, with the fault gone, releases and spends once."""
    seed_home(home, *small_sector())
    cli = _cli(run_cli, home)
    state = _vault_state(home)
    real = release_run.compute

    def broken(con: Any, *args: Any, **kwargs: Any) -> Any:
        if con.execute("SELECT count(*) FROM current_episodes").fetchone()[0]:
            raise RuntimeError("the mechanism failed half way")
        return real(con, *args, **kwargs)

    monkeypatch.setattr(release_run, "compute", broken)
    failed = cli("release", "--period", PERIOD, "--yes")
    assert failed.exit_code == 1
    assert "the mechanism failed half way" in failed.output
    assert _vault_state(home) == state
    assert not home.published_db.exists()
    monkeypatch.setattr(release_run, "compute", real)
    assert cli("release", "--period", PERIOD, "--yes").exit_code == 0
    assert len(_vault_state(home)[1]) == 2


def test_release_without_a_period_adds_newly_approved_cells(
    released_once: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests that plain `outcomes release` (every releasable period) also picks up a released
    period whose Māori-data cells were approved since, computing only those cells, and that a
    further plain run has nothing to do."""
    hub = _copy(released_once, tmp_path)
    cli = _cli(run_cli, hub)
    assert cli(*APPROVE).exit_code == 0
    result = cli("release", "--yes")
    assert result.exit_code == 0, result.output
    with open_vault(hub).connect() as con:
        governed = con.execute(
            "SELECT part_id FROM release_parts WHERE component LIKE 'governed:%'"
        ).fetchall()
        assert audit_actions(con).count("release_addendum") == 1
    assert sorted(governed) == _governed_parts(default_plan())
    state = _vault_state(hub)
    again = cli("release", "--yes")
    assert again.exit_code == 0
    assert "Nothing to release" in again.output
    assert _vault_state(hub) == state
