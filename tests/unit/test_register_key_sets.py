"""The NGO register's programmes and regions are each NGO's public key sets (decision 017)."""

from __future__ import annotations

import pandas as pd
import pytest
from dp_helpers import PERIOD, bounded_sector, load_rows, memory_vault

from pipelines.hub.release import compute, contributing_ngos, ngos_by_measure, plan_parts
from pipelines.hub.release import noise as release_noise
from pipelines.hub.release.keys import register_key_sets, within_key_sets
from pipelines.hub.vault import register
from pipelines.privacy.plan import default_plan
from pipelines.privacy.postprocess import publish_cells

RUNS = ("parenting",)
"""What ngo-aroha is registered for; its clients are in parenting and housing support."""


def _noise_free_release(
    regs: list[register.RegisteredNgo], monkeypatch: pytest.MonkeyPatch
) -> pd.DataFrame:
    plan = default_plan()
    eps, ass = bounded_sector(
        5,
        ngos=("ngo-aroha", "ngo-kauri"),
        clients_per_ngo=60,
        programmes=("parenting", "housing_support"),
    )
    con = memory_vault()
    load_rows(con, eps, ass)
    register.replace(con, regs, "tests")
    contributing = contributing_ngos(con, PERIOD)
    budget = dict.fromkeys(contributing["episodes"], plan.default_rho)
    parts, _ = plan_parts(plan, contributing, budget, frozenset())
    key_sets = register_key_sets(register.listing(con))
    monkeypatch.setattr(release_noise, "add_noise", lambda values, scale: list(values))
    raw = compute(con, plan, PERIOD, parts, contributing, key_sets=key_sets)
    cells = publish_cells(raw, plan, ngos_by_measure(parts, contributing), frozenset())
    rows = pd.DataFrame(eps)
    refused = set(rows.loc[rows["consent_aggregate"].eq(False), "client_id"])
    consenting = rows[~rows["client_id"].isin(refused)]
    cells.attrs["clients"] = consenting.groupby("ngo_id")["client_id"].nunique().to_dict()
    return cells


def _registered(
    programmes: tuple[str, ...], regions: tuple[str, ...] = ()
) -> list[register.RegisteredNgo]:
    return [
        register.RegisteredNgo("ngo-aroha", "Aroha", programmes, regions, True),
        register.RegisteredNgo("ngo-kauri", "Kauri", (), (), True),
    ]


def test_per_ngo_cells_cover_only_registered_programmes_and_totals_keep_every_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests that an NGO registered for parenting only gets no per-NGO cell for housing
    support (where some of its clients are), while its clients served and sessions still
    count those clients, pooled cells by programme count them under housing support, and an
    NGO registered with no programmes keeps a cell for every programme of the contract."""
    cells = _noise_free_release(_registered(RUNS), monkeypatch)
    plan = default_plan()
    aroha = cells[cells["ngo_id"] == "ngo-aroha"]
    by_programme = aroha[aroha["programme"].notna()]
    assert set(by_programme["programme"]) == set(RUNS)
    assert set(by_programme["measure"]) == {"ngo_clients_by_programme", "ngo_sessions_by_programme"}
    total = aroha[aroha["measure"] == "ngo_clients_total"]["value"].item()
    assert total == cells.attrs["clients"]["ngo-aroha"]  # housing support clients included
    pooled = cells[(cells["measure"] == "clients_by_programme") & cells["ngo_id"].isna()]
    assert pooled.set_index("programme").loc["housing_support", "value"] > 0
    kauri = cells[
        (cells["ngo_id"] == "ngo-kauri") & (cells["measure"] == "ngo_clients_by_programme")
    ]
    assert set(kauri["programme"]) == set(plan.key_sets["programme"])


def test_registration_changes_no_number_other_than_which_per_ngo_cells_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests that registering programmes and regions is free: every cell released both with
    and without the registration has the same exact value, and only per-NGO cells outside
    the registration are missing."""
    open_ = _noise_free_release(_registered(()), monkeypatch)
    keyed = _noise_free_release(_registered(RUNS, ("Northland",)), monkeypatch)
    keys = ["measure", "ngo_id", "programme", "region", "ethnicity", "age_band", "gender"]
    keys += ["domain", "domain_group", "exit_reason", "change"]
    both = open_.merge(keyed, on=keys, suffixes=("_open", "_keyed"), how="left", indicator=True)
    missing = both[both["_merge"] == "left_only"]
    assert (missing["ngo_id"] == "ngo-aroha").all()
    assert (missing["programme"] != "parenting").all()
    kept = both[both["_merge"] == "both"]
    pd.testing.assert_series_equal(
        kept["value_open"].reset_index(drop=True),
        kept["value_keyed"].reset_index(drop=True),
        check_names=False,
    )


def test_key_sets_from_the_register_leave_unlisted_dimensions_open() -> None:
    """Tests that an NGO's key sets hold only the dimensions the register lists values for,
    and that filtering keeps every cell of an NGO without key sets."""
    regs = [
        register.RegisteredNgo("a", "A", ("parenting",), (), True),
        register.RegisteredNgo("b", "B", (), (), True),
    ]
    key_sets = register_key_sets(regs)
    assert key_sets == {"a": {"programme": ("parenting",)}}
    cells = pd.DataFrame(
        {"ngo_id": ["a", "a", "b", "b"], "programme": ["parenting", "housing_support"] * 2}
    )
    kept = within_key_sets(cells, key_sets)
    assert kept.values.tolist() == [
        ["a", "parenting"],
        ["b", "parenting"],
        ["b", "housing_support"],
    ]
