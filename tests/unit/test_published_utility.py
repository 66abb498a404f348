"""Utility figures, from a fabricated published zone and register facts only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.hub.publish import _measures
from pipelines.privacy.plan import default_plan
from pipelines.published.store import SCHEMA, write_published
from pipelines.published.utility import published_utility

PERIOD = "2026-Q3"


@dataclass(frozen=True)
class Listed:
    ngo_id: str
    programmes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


def _cell(
    measure: str, ngo: str | None, value: float, half: float, flag: str, **keys: str
) -> dict[str, object]:
    shown = flag != "withheld"
    return {
        "release_id": f"{PERIOD}-r1",
        "period": PERIOD,
        "is_current": True,
        "measure": measure,
        "ngo_id": ngo,
        **keys,
        "value": value if shown else None,
        "ci95_low": value - half if shown else None,
        "ci95_high": value + half if shown else None,
        "reliability": flag,
        "rho": 0.01,
    }


def _zone(tmp_path: Path) -> Path:
    """Three NGOs: a large one whose figures are all published, a middling one whose sessions
    are withheld, a small one with a cell for a programme it is not registered for; one pooled
    share flagged ok although ± 12 points wide."""
    rows = []
    for measure in ("ngo_clients_total", "ngo_sessions_total"):
        rows.append(_cell(measure, "ngo-big", 300 if "clients" in measure else 2000, 20, "ok"))
    for measure in ("ngo_share_paired", "ngo_share_satisfied", "ngo_share_improved"):
        rows.append(_cell(measure, "ngo-big", 0.5, 0.05, "ok"))
    rows.append(_cell("ngo_clients_total", "ngo-mid", 80, 15, "ok"))
    rows.append(_cell("ngo_sessions_total", "ngo-mid", 0, 0, "withheld"))
    rows.append(_cell("ngo_clients_total", "ngo-small", 12, 6, "low"))
    rows.append(
        _cell(
            "ngo_clients_by_programme", "ngo-small", 5, 6, "withheld", programme="housing_support"
        )
    )
    rows.append(_cell("share_paired_overall", None, 0.5, 0.12, "ok"))
    rows.append(_cell("clients_total", None, 400, 10, "ok"))
    tables = {name: pd.DataFrame(columns=list(columns)) for name, columns in SCHEMA.items()}
    tables["cells"] = pd.DataFrame(rows).reindex(columns=list(SCHEMA["cells"]))
    tables["measures"] = _measures(default_plan())
    path = tmp_path / "published.duckdb"
    write_published(path, tables)
    return path


def test_utility_figures_read_the_published_zone_and_say_pass_or_miss(tmp_path: Path) -> None:
    """Tests that the utility figures count published per-NGO cells, headline figures of NGOs
    by their released size, cells outside an NGO's registration and ok cells wider than their
    scale allows, each as one sentence with its target and PASS or MISS."""
    register = [
        Listed("ngo-big", ("parenting",)),
        Listed("ngo-mid"),
        Listed("ngo-small", ("parenting",), ("Waikato",)),
    ]
    figures = {f.name: f for f in published_utility(_zone(tmp_path), register, PERIOD)}
    lines = [f.line() for f in figures.values()]
    published = figures["per-NGO cells published (ok or low)"]
    assert (published.value, published.met) == (7 / 9, True)
    counts = next(f for n, f in figures.items() if n.startswith("NGOs with 50+"))
    assert counts.value == 0.5
    assert not counts.met
    shares = next(f for n, f in figures.items() if n.startswith("NGOs with 200+"))
    assert shares.value == 1.0
    assert shares.met
    outside = next(f for n, f in figures.items() if "not registered" in n)
    assert outside.value == 1
    assert not outside.met
    wide = figures["ok cells wider than their scale allows"]
    assert wide.value == 1
    assert not wide.met
    assert (
        lines[0]
        == f"{PERIOD} per-NGO cells published (ok or low): 78% (7 of 9 cells; target at least 60%) PASS"
    )
    assert sum(line.endswith(" MISS") for line in lines) == 3
