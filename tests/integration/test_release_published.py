"""The published zone is not individual-level, and ``outcomes export`` writes the tidy table.

For the canary test, two generated NGOs and a canary NGO (raw references and row values
that cannot occur by chance) go the whole real way: NGO-side validation and
pseudonymisation, hub intake, the Dagster release job, ``outcomes export``. Then every
table, every text value and the raw bytes of the published zone and its exports are
searched for anything individual-level.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from dp_helpers import PERIOD, bounded_sector, seed_home
from ngo_helpers import hand_in

from pipelines.home import Home
from pipelines.hub.inbox import load_item, pending_ids
from pipelines.hub.intake import promote, staged_violations, validate_and_stage
from pipelines.hub.vault import open_vault
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.submit import submit
from pipelines.privacy.plan import default_plan
from pipelines.published.store import SCHEMA, TABLES
from pipelines.sample.generate import generate_sector
from pipelines.standard.periods import Period

CANARY = "ngo-canary"
TIDY = [
    "release_id", "period", "measure", "ngo_id", "programme", "region", "ethnicity",
    "age_band", "gender", "domain", "domain_group", "exit_reason", "change", "value", "ci95_low",
    "ci95_high", "reliability",
]  # fmt: skip
VAULT_TABLES = {
    "episodes", "assessments", "current_episodes",
    "current_assessments", "submissions", "audit_log", "release_cells", "release_parts",
    "release_inputs", "schema_version", "b_episodes", "b_assessments", "b_pairs", "b_changes",
    "b_groups", "b_satisfaction",
}  # fmt: skip
ROW_COLUMNS = {
    "client_id", "episode_id", "start_date", "end_date", "sessions", "consent_aggregate",
    "pre_score", "post_score", "assessed_by", "referral_source", "source_row", "submission_id",
    "raw_value", "noise_scale",
}  # fmt: skip
HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB spills temporary files under the working directory: each test has its own."""
    monkeypatch.chdir(tmp_path)


def _release_the_real_way(
    root: Path,
    make_episode_rows: Callable[..., list[dict[str, str]]],
    make_assessment_rows: Callable[..., list[dict[str, str]]],
    csv_bytes: Callable[..., bytes],
) -> dict[str, Any]:
    """A hub released the real way, with its canary needles: raw references, pseudonyms and
    row values that must never reach the published zone."""
    from click.testing import CliRunner

    from pipelines.cli import main

    home = Home(root / "home")
    period = Period.parse(PERIOD)
    sector = generate_sector(root / "extracts", ngos=2, period=period, seed=31)
    files = [(n.ngo_id, d, p) for n in sector.ngos for d, p in
             (("episodes", n.episodes_path), ("assessments", n.assessments_path))]  # fmt: skip
    episodes = make_episode_rows(40, period)
    for i, row in enumerate(episodes):
        row["client_id"] = f"CANARY-ZEBRA-{i // 2:04d}"
        row["episode_id"] = f"CANARY-EPISODE-{i:04d}"
        row["start_date"] = "2025-07-13"
        row["end_date"] = "2025-08-29" if row["end_date"] else ""
        row["sessions"] = "997"
    assessments = make_assessment_rows(episodes)
    for name, rows in (("episodes", episodes), ("assessments", assessments)):
        path = root / f"canary-{name}.csv"
        path.write_bytes(csv_bytes(rows))
        files.append((CANARY, name, path))
    ngo_side = NgoHome(root / "ngo-side")
    for ngo, dataset, path in files:
        outcome = submit(path, home=ngo_side, ngo_id=ngo, period=period, dataset=dataset)
        assert outcome.status == "accepted", (ngo, dataset, outcome.message)
    assert len(hand_in(home, ngo_side)) == 6
    with open_vault(home).connect() as con:
        items = [load_item(home, sid) for sid in pending_ids(home)]
        verdicts = validate_and_stage(home, con, items)
        assert {v.status for v in verdicts} == {"staged"}
        assert staged_violations(con) == {}
        assert len(promote(home, con).made_current) == 6
        pseudonyms = {
            v
            for table in ("episodes", "assessments")
            for row in con.execute(f"SELECT client_id, episode_id FROM {table}").fetchall()
            for v in row
        }
        canary_ids = con.execute(
            "SELECT DISTINCT client_id FROM episodes WHERE ngo_id = ?", [CANARY]
        ).fetchall()
    assert len(canary_ids) == 20
    assert all(HEX32.fullmatch(c) for (c,) in canary_ids)
    # The plan's largest budget, so that shares and means of this small sector show.
    for args in (
        ["budget", "set", "--default", "--period", PERIOD, "--rho", "10"],
        ["budget", "set", "--default", "--annual-rho", "40"],
        ["release", "--period", PERIOD, "--yes"],
    ):
        result = CliRunner().invoke(main, [*args, "--home", str(home.root)])
        assert result.exit_code == 0, result.output
    for fmt in ("csv", "parquet"):
        out = root / f"export.{fmt}"
        result = CliRunner().invoke(
            main, ["export", "--format", fmt, "--out", str(out), "--home", str(home.root)]
        )
        assert result.exit_code == 0, result.output
    needles = [*sorted(pseudonyms), "CANARY", "2025-07-13", "2025-08-29"]
    return {"home": home, "root": root, "needles": needles, "pseudonyms": pseudonyms}


def _published_files(home: Home, root: Path) -> list[Path]:
    return [
        home.published_db,
        home.exports / "cells.csv",
        home.exports / "cells.parquet",
        root / "export.csv",
        root / "export.parquet",
    ]


def test_no_pseudonym_row_value_or_vault_table_reaches_the_published_zone(
    tmp_path: Path,
    episode_rows: Callable[..., list[dict[str, str]]],
    assessment_rows: Callable[..., list[dict[str, str]]],
    to_csv: Callable[..., bytes],
) -> None:
    """Tests that nothing individual-level is published: the published database holds exactly
    the published tables (no vault table, no row-level column), and no text value in any of
    them, and no byte of it or of the CSV and Parquet exports, contains a client or episode
    pseudonym (nor any 32-hex-digit string), the canary NGO's raw references, or its
    distinctive dates."""
    released = _release_the_real_way(tmp_path, episode_rows, assessment_rows, to_csv)
    home: Home = released["home"]
    with duckdb.connect(str(home.published_db), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
        assert tables == set(TABLES)
        assert views == (0,)
        assert not tables & VAULT_TABLES
        texts: list[str] = []
        for table in TABLES:
            frame = con.execute(f"SELECT * FROM {table}").df()
            assert list(frame.columns) == list(SCHEMA[table]), table
            assert not set(frame.columns) & ROW_COLUMNS, table
            for column in frame.columns:
                texts += [str(v) for v in frame[column].dropna().tolist()]
    assert len(texts) > 10_000
    blob = "\n".join(texts)
    for needle in released["needles"]:
        assert needle not in blob, needle
    assert not HEX32.search(blob), HEX32.search(blob)
    for path in _published_files(home, released["root"]):
        data = path.read_bytes()
        assert len(data) > 1000, path
        for needle in released["needles"]:
            assert needle.encode() not in data, (path, needle)
    for path in (home.exports / "cells.parquet", released["root"] / "export.parquet"):
        frame = pd.read_parquet(path)
        values = "\n".join(str(v) for c in frame.columns for v in frame[c].dropna().tolist())
        assert not any(p in values for p in released["pseudonyms"])
        assert "CANARY" not in values


def test_outcomes_export_writes_the_tidy_table(
    home: Home, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Tests that `outcomes export --format csv|parquet --out FILE` writes one tidy row per
    released cell of the current release with the columns release_id, period, measure,
    ngo_id, the nine dimensions, value, ci95_low, ci95_high and reliability first; counts
    are whole and never negative, shares lie within 0–1, mean changes within ±4, and every
    shown interval contains its value."""
    ngos = ("ngo-aroha", "ngo-kauri", "ngo-tui")
    seed_home(home, *bounded_sector(seed=17, ngos=ngos, clients_per_ngo=100))
    for args in (  # the plan's largest budget, so that many shares and means show
        ("budget", "set", "--default", "--period", PERIOD, "--rho", "10"),
        ("budget", "set", "--default", "--annual-rho", "40"),
        ("release", "--period", PERIOD, "--yes"),
    ):
        result = run_cli(*args, "--home", home.root)
        assert result.exit_code == 0, result.output
    with duckdb.connect(str(home.published_db), read_only=True) as published:
        current = published.execute("SELECT count(*) FROM cells WHERE is_current").fetchone()
    plan = default_plan()
    ratios = {d.id: plan.ratio_range(d) for d in plan.derived if d.kind == "ratio"}
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"cells.{fmt}"
        result = run_cli("export", "--format", fmt, "--out", path, "--home", home.root)
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(path, dtype={"change": str}) if fmt == "csv" else pd.read_parquet(path)
        assert list(frame.columns[: len(TIDY)]) == TIDY
        assert current is not None
        assert len(frame) == current[0] > 1000
        assert set(frame["reliability"]) <= {"ok", "low", "withheld"}
        assert set(frame["period"].astype(str)) == {PERIOD}
        shown = frame[frame["reliability"] != "withheld"]
        assert shown[["value", "ci95_low", "ci95_high"]].notna().all().all()
        assert (shown["ci95_low"] <= shown["value"]).all()
        assert (shown["value"] <= shown["ci95_high"]).all()
        assert frame[frame["reliability"] == "withheld"]["value"].isna().all()
        counts = shown[shown["kind"] == "count"]
        assert len(counts) > 80
        assert (counts["value"] >= 0).all()
        assert (counts["ci95_low"] >= 0).all()
        assert np.array_equal(counts["value"], np.round(counts["value"]))
        shares = shown[shown["measure"].map(lambda m: ratios.get(m) == (0.0, 1.0))]
        means = shown[shown["measure"].map(lambda m: ratios.get(m) == (-4.0, 4.0))]
        assert len(shares) > 10, fmt
        assert len(means) > 3, fmt
        for part, (low, high) in ((shares, (0.0, 1.0)), (means, (-4.0, 4.0))):
            cols = part[["value", "ci95_low", "ci95_high"]]
            assert ((cols >= low) & (cols <= high)).all().all()
        # pooled cells have no NGO; NGO cells name one; dimensions empty outside the breakdown
        pooled = frame[frame["measure"] == "clients_total"]
        assert len(pooled) == 1
        assert pd.isna(pooled["ngo_id"].iloc[0])
        assert pooled[TIDY[4:12]].isna().all().all()
        assert sorted(frame[frame["measure"] == "ngo_clients_total"]["ngo_id"]) == list(ngos)


def test_export_of_an_empty_hub_says_nothing_is_published(
    home: Home, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Tests that exporting before anything is released fails with a message saying to
    release first, and writes no file."""
    home.create()
    out = tmp_path / "cells.csv"
    result = run_cli("export", "--format", "csv", "--out", out, "--home", home.root)
    assert result.exit_code == 1
    assert "nothing has been published yet" in result.output
    assert not out.exists()
