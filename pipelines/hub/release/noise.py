"""Drawing a release's noise: bound, aggregate exactly, add OpenDP noise; and the dry run first.

The noisy cells are held in memory only, until the store commits them with
their spends. Before touching the vault, the whole plan runs on empty tables
of the vault's schema (:func:`dry_run`), so a fault in bounding, aggregation,
noise or post-processing shows before real data is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pandas as pd

from pipelines.db import offline_connection
from pipelines.hub.bounding import bound, exact_cells
from pipelines.hub.release.errors import ReleaseError
from pipelines.hub.release.keys import KeySets, within_key_sets
from pipelines.hub.release.parts import POOLED, Part, ngos_by_measure
from pipelines.hub.vault.rows import create_table_sql
from pipelines.privacy.mechanisms import add_noise
from pipelines.privacy.plan import ALL, OPEN, Component, Measure, ReleasePlan
from pipelines.privacy.postprocess import publish_cells
from pipelines.standard.contract import load_contracts

DRY_RUN_NGOS = 3
"""Per-NGO parts the dry run computes: it proves the code paths, not the scale."""


def _components(frame: pd.DataFrame, plan: ReleasePlan, measure: Measure) -> pd.Series:
    """Each cell's release component, as stored text."""
    components = plan.components(measure)
    labels = pd.Series(str(ALL if components == (ALL,) else OPEN), index=frame.index)
    for dim in plan.governed_dimensions(measure):
        for value in plan.governed[dim]:
            labels = labels.mask(frame[dim] == value, str(Component.governed_by(dim, value)))
    return labels


def compute(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    period: str,
    parts: list[Part],
    contributing: Mapping[str, list[str]],
    *,
    key_sets: KeySets | None = None,
) -> pd.DataFrame:
    """Bound, aggregate exactly and add noise: the noisy cells of every part (held in memory only).

    Per-NGO cells are computed only inside each NGO's registered key sets (``key_sets``, from
    the NGO register); pooled cells always cover the contracts' whole key sets.

    Vectorised per measure: each cell is tagged with its part, and cells whose
    parts share a noise scale are noised in one OpenDP call (independent noise
    per cell either way), so ten thousand per-NGO parts cost no more than a few.
    """
    bound(con, plan, period)
    by_measure: dict[str, list[Part]] = defaultdict(list)
    for part in parts:
        by_measure[part.measure.id].append(part)
    frames = []
    for measure_parts in by_measure.values():
        measure = measure_parts[0].measure
        ngos = contributing[measure.statistic.dataset] if measure.scope == "ngo" else None
        exact = exact_cells(con, plan, measure, ngos)
        if ngos is None:
            exact.insert(0, "ngo_id", None)
        elif key_sets:
            exact = within_key_sets(exact, key_sets).reset_index(drop=True)
        owner = exact["ngo_id"].astype(object).where(exact["ngo_id"].notna(), POOLED).astype(str)
        part_ids = measure.id + ":" + _components(exact, plan, measure) + ":" + owner
        wanted = {p.part_id: p for p in measure_parts}
        keep = part_ids.isin(wanted).to_numpy()
        exact, part_ids = exact[keep], part_ids[keep]
        frames.append(
            exact.assign(
                part_id=part_ids.to_numpy(),
                measure=measure.id,
                noise_scale=part_ids.map(
                    {k: p.calibration.scale for k, p in wanted.items()}
                ).to_numpy(float),
                rho=part_ids.map({k: p.calibration.rho for k, p in wanted.items()}).to_numpy(float),
            )
        )
    cells = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["ngo_id", "value", "part_id", "measure", "noise_scale", "rho"])
    )
    raw = np.zeros(len(cells), dtype=np.int64)
    values = cells["value"].to_numpy(dtype=np.int64)
    groups = list(cells.groupby("noise_scale", sort=False).indices.items())
    # OpenDP's sampler runs in Rust without the GIL: two threads use both cores.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="noise") as pool:
        draws = pool.map(
            lambda group: add_noise(values[group[1]].tolist(), float(group[0])), groups
        )
        for (_scale, rows), noisy in zip(groups, draws, strict=True):
            raw[rows] = noisy
    cells = cells.drop(columns=["value"]).assign(raw_value=raw)
    for dim in plan.published_dimensions:
        if dim not in cells.columns:
            cells[dim] = None
    return cells


def dry_run(
    plan: ReleasePlan,
    period: str,
    parts: list[Part],
    contributing: Mapping[str, list[str]],
    approved: frozenset[tuple[str, str]] = frozenset(),
    *,
    key_sets: KeySets | None = None,
) -> None:
    """Run the whole plan on empty tables of the vault's schema; raise :class:`ReleaseError` on any fault.

    Publication is dry-run with the approvals in force, as the real one will be: an addendum
    holds only Māori-data cells, which would all be hidden without them. Every part kind runs,
    but per-NGO parts only for a few NGOs.
    """
    sample = {dataset: ngos[:DRY_RUN_NGOS] for dataset, ngos in contributing.items()}
    kept = {n for ngos in sample.values() for n in ngos}
    parts = [p for p in parts if p.ngo_id is None or p.ngo_id in kept]
    try:
        with offline_connection() as empty:
            for dataset, contract in load_contracts().items():
                empty.execute(create_table_sql(f"current_{dataset}", contract))
            cells = compute(empty, plan, period, parts, sample, key_sets=key_sets)
            publish_cells(cells, plan, ngos_by_measure(parts, sample), approved)
    except Exception as exc:
        raise ReleaseError(
            f"The release of {period} stopped in its dry run on empty data, before touching the vault; "
            f"nothing was spent. Fault: {type(exc).__name__}: {exc}"
        ) from None
