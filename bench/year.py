"""The benchmark's national year: four quarters through intake, release and site, one after another.

A hub lives for years, so a quarter must cost what its own data costs, not what
the history before it does. This section generates a national year (2,000 NGOs,
``outcomes generate --periods``, clients who persist), submits each quarter on
the NGO side with the same NGO keys (so pseudonyms are stable, as in a real
year), registers the NGOs, then takes the quarters through one hub in order:
each quarter's packages arrive through the hub's receiver, then intake, release
(proposed, approved, computed, published) and the site, each stage in its own
process for its time and peak memory. Each quarter is compared with the first,
per row of its own data: a stage whose cost grew with the history would show
here. Generation and submission are cached under ``bench/data/`` per seed.

    python -m bench.run --only year [--ngos N] [--seed S] [--out DIR]
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import TODAY, _bin, _run

YEAR = "2025-Q4..2026-Q3"
GROWTH = 1.5
"""A later quarter may cost up to this many times the first, per row: about the same, given
run-to-run noise and a caseload that drifts from quarter to quarter."""
PEAK_MIB = 2048.0
STAGES = ("intake", "release", "site")


@dataclass(frozen=True)
class YearSetup:
    """The cached national year: the NGOs' folders (one key each, all year), a hub with every
    NGO registered, and each quarter's packages, submitted in order."""

    ngo_side: Path
    registered: Path
    periods: tuple[str, ...]


def _setup(seed: int, ngos: int, data: Path) -> YearSetup:
    """Generate the year, register its NGOs and submit each quarter on the NGO side, once per
    seed; the hub receives each quarter's packages when its turn comes."""
    from bench.run import register_all, submit_all
    from pipelines.standard.periods import parse_range

    base = data / f"year-seed-{seed}-ngos-{ngos}"
    extracts, ngo_side = base / "extracts", base / "ngo-side"
    registered = base / "registered-keys"  # with each NGO's programmes and regions
    if not (extracts / ".complete").exists():
        shutil.rmtree(extracts, ignore_errors=True)
        print(f"Generating a national year {YEAR} ({ngos} NGOs, seed {seed}) …", flush=True)
        _run(
            [
                _bin("outcomes"), "generate", "--ngos", str(ngos), "--periods", YEAR,
                "--seed", str(seed), "--out", str(extracts),
            ]
        )  # fmt: skip
        (extracts / ".complete").write_text("ok\n")
    periods = tuple(str(p) for p in parse_range(YEAR))
    if not (ngo_side / ".complete").exists():
        shutil.rmtree(ngo_side, ignore_errors=True)
        for period in periods:  # in order, into one folder: each NGO keeps its key all year
            submit_all(extracts / period, ngo_side, period)
        (ngo_side / ".complete").write_text("ok\n")
    if not (registered / ".complete").exists():
        shutil.rmtree(registered, ignore_errors=True)
        ids = sorted(
            {f.name for period in periods for f in (extracts / period).iterdir() if f.is_dir()}
        )
        folders = {f.name: f for period in periods for f in (extracts / period).iterdir()}
        register_all(registered, ids, base / "tokens.json", folders)
        (registered / ".complete").write_text("ok\n")
    return YearSetup(ngo_side, registered, periods)


def _rows(inbox: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(folder / "data.parquet").metadata.num_rows
        for folder in inbox.iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    )


def run(
    seed: int,
    ngos: int,
    data: Path,
    *,
    measure: Callable[[list[str]], tuple[float, float, str]],
    fresh: Callable[[Path, Path, str], Path],
) -> dict[str, Any]:
    """Take the year's quarters through one hub in order; return the per-quarter results."""
    from bench.run import receive_all

    setup = _setup(seed, ngos, data)
    hub = fresh(setup.registered, data / "work", "year")
    python = sys.executable
    commands = {
        "intake": lambda p: [python, "-m", "bench.stages", "intake", "--home", str(hub)],
        "release": lambda p: [
            python,
            "-m",
            "bench.stages",
            "release",
            "--home",
            str(hub),
            "--period",
            p,
        ],
        "site": lambda p: [_bin("outcomes"), "site", "--home", str(hub)],
    }
    quarters = []
    print("Timing a national year, quarter by quarter …", flush=True)
    for period in setup.periods:
        receive_all(hub, setup.ngo_side, period)  # the quarter arrives (not timed)
        row: dict[str, Any] = {"period": period, "rows": _rows(hub / "inbox")}
        for stage in STAGES:
            seconds, peak, _ = measure(commands[stage](period))
            row[f"{stage}_seconds"], row[f"{stage}_peak_rss_mib"] = seconds, peak
            print(f"  {period} {stage}: {seconds:.1f} s, peak {peak:.0f} MiB", flush=True)
        quarters.append(row)
    first = quarters[0]
    for row in quarters:
        for stage in STAGES:
            per_row = row[f"{stage}_seconds"] / row["rows"]
            row[f"{stage}_vs_first_per_row"] = per_row / (first[f"{stage}_seconds"] / first["rows"])
    checks = {
        f"every quarter's {stage} within {GROWTH:g}x the first's, per row": all(
            r[f"{stage}_vs_first_per_row"] <= GROWTH for r in quarters
        )
        for stage in STAGES
    }
    checks["every stage of every quarter < 2 GiB"] = all(
        r[f"{s}_peak_rss_mib"] < PEAK_MIB for r in quarters for s in STAGES
    )
    year = {
        "sector": {"ngos": ngos, "seed": seed, "periods": YEAR, "today": str(TODAY)},
        "quarters": quarters,
        "targets": checks,
    }
    _print(year)
    return year


def _print(year: dict[str, Any]) -> None:
    sector = year["sector"]
    print(f"\nNational year {sector['periods']}: {sector['ngos']:,} NGOs, seed {sector['seed']}\n")
    header = f"{'quarter':9s} {'rows':>10s}"
    for stage in STAGES:
        header += f" {stage + ' s':>10s} {'MiB':>6s} {'x 1st/row':>9s}"
    print(header)
    for r in year["quarters"]:
        line = f"{r['period']:9s} {r['rows']:10,d}"
        for stage in STAGES:
            line += (
                f" {r[f'{stage}_seconds']:10.1f} {r[f'{stage}_peak_rss_mib']:6.0f}"
                f" {r[f'{stage}_vs_first_per_row']:9.2f}"
            )
        print(line)
    print()
    for name, ok in year["targets"].items():
        print(f"  [{'met' if ok else 'MISSED'}] {name}")
