"""The benchmark's stages, each run as its own process so its time and peak memory are its own.

    python -m bench.stages intake  --home H
    python -m bench.stages release --home H --period P
    python -m bench.stages site    --home H
    python -m bench.stages hub     --home H --period P      (intake, then the release job with its site)
    python -m bench.stages floor   --inbox DIR

The floor is DuckDB alone on the same sanitised files: it reads them, runs the
contracts' rules as plain SQL (the same SQL the hub's blocking check runs) and
the release plan's group-bys without noise (the same bounding SQL). Everything
the hub adds on top of that is validation with Great Expectations, identifier
scanning, Dagster, the vault's encryption, the ledger, OpenDP and publishing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def _intake(home_dir: Path) -> None:
    from pipelines.assets.runs import run_intake
    from pipelines.home import Home

    runs = run_intake(Home(home_dir))
    if not runs or not all(r.success for r in runs):
        raise SystemExit("intake failed")


def _release(home_dir: Path, period: str, *, site: bool) -> None:
    from pipelines.assets.runs import run_release
    from pipelines.home import Home
    from pipelines.hub.release import propose_and_approve
    from pipelines.hub.vault import open_vault
    from pipelines.privacy.plan import load_plan

    home = Home(home_dir)
    with open_vault(home).connect() as con:  # as `outcomes release --yes`: proposed, approved
        propose_and_approve(con, load_plan(), period, by="benchmark")
    run_release(home, period, requested_by="benchmark", build_site=site)


def _site(home_dir: Path) -> None:
    outcomes = Path(sys.executable).with_name("outcomes")
    subprocess.run(
        [str(outcomes), "site", "--home", str(home_dir)], check=True, stdout=subprocess.DEVNULL
    )


def _floor(inbox: Path, period: str) -> dict[str, int]:
    """DuckDB alone: read, check, group by. Returns counts so the work cannot be skipped."""
    import duckdb

    from pipelines.hub.bounding import bound, exact_cells
    from pipelines.privacy.plan import load_plan
    from pipelines.standard.contract import load_contracts
    from pipelines.validation.sql_rules import count_orphans, count_violations

    plan = load_plan()
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")  # the same cap as the hub's vault connection
    totals: dict[str, int] = {}
    for dataset, contract in load_contracts().items():
        pattern = str(inbox / f"*.{dataset}.*" / "data.parquet")
        con.execute(
            f"CREATE TABLE current_{dataset} AS SELECT "
            "string_split(parse_dirpath(filename), '/')[-1] AS submission_id, "
            "string_split(string_split(parse_dirpath(filename), '/')[-1], '.')[2] AS ngo_id, "
            "string_split(string_split(parse_dirpath(filename), '/')[-1], '.')[1] AS period, "
            f"* EXCLUDE (filename), current_date AS submitted_on FROM read_parquet('{pattern}', filename = true)"
        )
        violations = count_violations(con, contract, f"current_{dataset}")
        totals[f"{dataset} rule violations"] = sum(violations.values())
    orphans = count_orphans(
        con, load_contracts()["assessments"], "current_assessments", "current_episodes"
    )
    totals["orphan assessments"] = sum(orphans.values())
    bound(con, plan, period)
    ngos = [
        r[0]
        for r in con.execute("SELECT DISTINCT ngo_id FROM current_episodes ORDER BY 1").fetchall()
    ]
    cells = 0
    for measure in plan.measures:
        cells += len(exact_cells(con, plan, measure, ngos if measure.scope == "ngo" else None))
    totals["cells"] = cells
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["intake", "release", "site", "hub", "floor"])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--inbox", type=Path)
    parser.add_argument("--period", default="2026-Q3")
    args = parser.parse_args()
    started = time.perf_counter()
    result: dict[str, object] = {}
    if args.stage == "intake":
        _intake(args.home)
    elif args.stage == "release":
        _release(args.home, args.period, site=False)
    elif args.stage == "site":
        _site(args.home)
    elif args.stage == "hub":
        _intake(args.home)
        _release(args.home, args.period, site=True)  # the release job builds the site
    else:
        result = _floor(args.inbox, args.period)
    result["seconds_inside"] = time.perf_counter() - started
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
