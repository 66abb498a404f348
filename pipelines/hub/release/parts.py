"""Planning a release's parts: pure, no vault. What will be noised, at what scale, paid by whom.

A release of a period is a set of *parts*; each part is one noisy vector (a
base measure's cells, for the pool or for one NGO, and for one release
component) with its own calibration and its own ledger rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.privacy.mechanisms import Calibration, calibrate
from pipelines.privacy.plan import Component, Measure, ReleasePlan
from pipelines.standard.contract import DATASETS

POOLED = "pooled"
"""The owner part of a pooled part's id (per-NGO parts name their NGO)."""


def part_id(measure_id: str, component: Component, ngo_id: str | None) -> str:
    """``<measure>:<component>:<NGO or pooled>``: a part's id within its release."""
    return f"{measure_id}:{component}:{ngo_id or POOLED}"


@dataclass(frozen=True)
class Part:
    """One noisy vector of a release and who pays for it."""

    part_id: str
    measure: Measure
    component: Component
    ngo_id: str | None
    charged: tuple[str, ...]
    calibration: Calibration
    cells: int


def contributing(current: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """NGOs contributing to each dataset, from the (dataset, NGO) pairs of current submissions.

    Assessments count only on accepted episodes: an NGO without them contributes nothing there.
    """
    found: dict[str, list[str]] = {d: [] for d in DATASETS}
    for dataset, ngo in current:
        found[dataset].append(ngo)
    episodes = set(found["episodes"])
    found["assessments"] = [n for n in found["assessments"] if n in episodes]
    return found


def plan_parts(
    plan: ReleasePlan,
    contributing: Mapping[str, list[str]],
    budget: Mapping[str, float],
    approved: frozenset[tuple[str, str]],
    done: frozenset[str] = frozenset(),
) -> tuple[list[Part], list[str]]:
    """The parts to compute now (calibrated on ``budget``), and the governed parts still
    waiting for approval (as ``<measure>:<component>``)."""
    parts: list[Part] = []
    pending: list[str] = []
    for measure in plan.measures:
        ngos = contributing.get(measure.statistic.dataset, [])
        if not ngos:
            continue
        l2 = plan.sensitivity(measure).l2
        share = plan.share(measure)
        for component in plan.components(measure):
            if component.governed and component.approval not in approved:
                pending.append(f"{measure.id}:{component}")
                continue
            if measure.scope == "pooled":
                owners: list[tuple[str | None, tuple[str, ...], float]] = [
                    (None, tuple(ngos), min(budget[n] for n in ngos))
                ]
            else:
                owners = [(ngo, (ngo,), budget[ngo]) for ngo in ngos]
            for owner, charged, rho in owners:
                pid = part_id(measure.id, component, owner)
                if pid not in done:
                    parts.append(
                        Part(
                            pid,
                            measure,
                            component,
                            owner,
                            charged,
                            calibrate(l2, share * rho),
                            plan.cells(measure),
                        )
                    )
    return parts, pending


def charges(parts: Iterable[Part]) -> dict[str, float]:
    """What the parts charge each NGO (rho, as OpenDP's privacy maps report it)."""
    total: dict[str, float] = defaultdict(float)
    for part in parts:
        for ngo in part.charged:
            total[ngo] += part.calibration.rho
    return dict(total)


def ngos_by_measure(
    parts: Iterable[Part], contributing: Mapping[str, list[str]]
) -> dict[str, list[str] | None]:
    """For each measure the parts compute: the NGOs of its per-NGO cells (None when pooled)."""
    found: dict[str, list[str] | None] = {}
    for part in parts:
        m = part.measure
        found[m.id] = contributing[m.statistic.dataset] if m.scope == "ngo" else None
    return found
