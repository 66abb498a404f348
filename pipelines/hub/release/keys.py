"""Each NGO's public key sets from the NGO register: which per-NGO cells a release computes.

The register lists the programmes each NGO is funded to run and the regions it works in;
both are public facts, so restricting an NGO's own cells to them costs no budget and
publishes no noise about programmes it does not run (decision 017). An NGO registered with no
programmes (or no regions) keeps every value of the contract for that dimension. The
restriction applies to per-NGO cells only: a client seen in an unregistered programme still
counts in the NGO's totals and in every pooled cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from pipelines.hub.vault.register import RegisteredNgo

REGISTERED_DIMENSIONS = ("programme", "region")
"""The breakdowns the register holds an NGO's own values for."""

KeySets = Mapping[str, Mapping[str, tuple[str, ...]]]
"""NGO id -> dimension -> the values its per-NGO cells are computed for (absent: all)."""


def register_key_sets(ngos: Iterable[RegisteredNgo]) -> dict[str, dict[str, tuple[str, ...]]]:
    """The key sets the register gives each NGO (only the dimensions it lists values for)."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for ngo in ngos:
        listed = {"programme": tuple(ngo.programmes), "region": tuple(ngo.regions)}
        own = {dim: tuple(sorted(values)) for dim, values in listed.items() if values}
        if own:
            found[ngo.ngo_id] = own
    return found


def within_key_sets(cells: pd.DataFrame, key_sets: KeySets) -> pd.DataFrame:
    """The per-NGO cells (an ``ngo_id`` column and its breakdown) inside each NGO's key sets."""
    keep = np.ones(len(cells), dtype=bool)
    for dim in REGISTERED_DIMENSIONS:
        if dim not in cells.columns:
            continue
        allowed = {ngo: set(own[dim]) for ngo, own in key_sets.items() if own.get(dim)}
        if not allowed:
            continue
        keep &= np.array(
            [
                ngo not in allowed or value in allowed[ngo]
                for ngo, value in zip(cells["ngo_id"], cells[dim], strict=True)
            ],
            dtype=bool,
        )
    return cells[keep]


def as_record(key_sets: KeySets) -> dict[str, dict[str, list[str]]]:
    """The key sets in a canonical, JSON-ready form (sorted), for a release's digest."""
    return {
        ngo: {dim: sorted(values) for dim, values in sorted(own.items())}
        for ngo, own in sorted(key_sets.items())
    }
