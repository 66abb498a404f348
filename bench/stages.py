"""The benchmark's stages, each run as its own process so its time and peak memory are its own.

    python -m bench.stages intake  --home H
    python -m bench.stages release --home H --period P
    python -m bench.stages site    --home H
    python -m bench.stages hub     --home H --period P      (intake, then the release job with its site)
    python -m bench.stages floor   --inbox DIR
    python -m bench.stages upload  --home H --ngo-home N --tokens F --clients 4

The floor is DuckDB alone on the same sanitised files: it reads them, runs the
contracts' rules as plain SQL (the same SQL the hub's blocking check runs) and
the release plan's group-bys without noise (the same bounding SQL). Everything
the hub adds on top of that is validation with Great Expectations, identifier
scanning, Dagster, the vault's encryption, the ledger, OpenDP and publishing.

The upload stage starts ``outcomes serve`` (the API and the Dagster daemon,
whose inbox sensor takes uploads in meanwhile) for a hub with the NGOs
registered, and times the NGOs' packages uploaded over loopback by several
client processes: submissions a second and the latency of each upload.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench import worker_dies_on_sigterm

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


@contextlib.contextmanager
def serving(home_dir: Path, *, daemon: bool) -> Iterator[str]:
    """`outcomes serve` for ``home_dir`` on a free loopback port; yields its URL once it
    answers, and stops it with SIGTERM."""
    import httpx

    log = home_dir / "hub" / "service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).with_name("outcomes")), "serve", "--home", str(home_dir)]
    argv += ["--port", "0", "--rate-limit", "100000", *([] if daemon else ["--no-daemon"])]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"outcomes serve did not start:\n{log.read_text()[-3000:]}")
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                try:
                    if httpx.get(f"{found.group(1)}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _client(args: tuple[str, dict[str, str], list[tuple[str, str]]]) -> list[tuple[int, float]]:
    """Worker: upload packages (NGO, folder) one after another; (status, seconds) of each."""
    import httpx

    from pipelines.ngo.client import HubClient, HubRefused
    from pipelines.ngo.outbox import Package
    from pipelines.ngo.token import Token
    from pipelines.standard.handover import MANIFEST, Manifest

    url, tokens, items = args
    transport = httpx.HTTPTransport()  # one pool of connections for every NGO of this client
    out = []
    for ngo_id, folder in items:
        path = Path(folder)
        package = Package(ngo_id, path, Manifest.parse((path / MANIFEST).read_bytes()))
        client = HubClient(url, Token(tokens[ngo_id]), transport=transport)
        started = time.perf_counter()
        try:
            _receipt, new = client.send(package)
            status = 202 if new else 200
        except HubRefused as refused:
            status = refused.status
        out.append((status, time.perf_counter() - started))
    transport.close()
    return out


def _upload(home_dir: Path, ngo_home: Path, tokens_file: Path, clients: int) -> dict[str, Any]:
    """The NGOs' packages uploaded to a running hub by ``clients`` processes at once."""
    from pipelines.home import Home
    from pipelines.hub.inbox import pending_ids
    from pipelines.ngo.folder import NgoHome
    from pipelines.ngo.outbox import waiting

    tokens = json.loads(tokens_file.read_text())
    packages = [(p.ngo_id, str(p.folder)) for p in waiting(NgoHome(ngo_home))]
    shares = [packages[i::clients] for i in range(clients)]
    with (
        serving(home_dir, daemon=True) as url,
        ProcessPoolExecutor(max_workers=clients, initializer=worker_dies_on_sigterm) as pool,
    ):
        list(pool.map(_client, [(url, tokens, [])] * clients))  # the clients start before the clock
        started = time.perf_counter()
        shared = pool.map(_client, [(url, tokens, s) for s in shares])
        done = [r for share in shared for r in share]
        seconds = time.perf_counter() - started
        waiting_now = len(pending_ids(Home(home_dir)))
    latencies = sorted(1000 * t for _, t in done)
    return {
        "submissions": len(packages),
        "received": sum(status in (200, 202) for status, _ in done),
        "upload_seconds": seconds,
        "per_second": len(done) / seconds,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "taken_in_meanwhile": len(packages) - waiting_now,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["intake", "release", "site", "hub", "floor", "upload"])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--inbox", type=Path)
    parser.add_argument("--ngo-home", type=Path)
    parser.add_argument("--tokens", type=Path)
    parser.add_argument("--clients", type=int, default=4)
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
    elif args.stage == "upload":
        result = _upload(args.home, args.ngo_home, args.tokens, args.clients)
    else:
        result = _floor(args.inbox, args.period)
    result["seconds_inside"] = time.perf_counter() - started
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
