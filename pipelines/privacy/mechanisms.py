"""Every bit of noise the hub adds, from OpenDP's discrete Gaussian mechanism under zCDP.

A measurement is built on vectors of integers with L2 distance, its scale is
calibrated so that OpenDP's own privacy map, at the vector's L2 sensitivity,
stays within the budget allotted; the ledger records the rho that OpenDP's
map reports, not a number computed here. Noise is signed: a cell whose true
value is zero can come out negative, and is only clamped afterwards, when it
is published (post-processing, with its interval computed before clamping).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# OpenDP's modules one by one: ``opendp.prelude`` also imports scikit-learn (1.5 s) for its
# sklearn extras, which the hub never uses.
import opendp.combinators as dp_c
import opendp.measurements as dp_m
from opendp.accuracy import discrete_gaussian_scale_to_accuracy
from opendp.domains import atom_domain, vector_domain
from opendp.metrics import absolute_distance, l2_distance
from opendp.mod import OpenDPException, enable_features

enable_features("contrib")

Z_95 = 1.959963984540054  # two-sided 95% standard normal quantile


@dataclass(frozen=True)
class Calibration:
    """The noise for one part of a release: scale, sensitivity and the rho OpenDP charges."""

    scale: float
    l2_sensitivity: float
    rho: float

    def __post_init__(self) -> None:
        if not (self.scale > 0 and self.l2_sensitivity > 0 and self.rho > 0):
            raise ValueError(f"scale, sensitivity and rho must be positive: {self}")


@functools.lru_cache(maxsize=4096)
def _measurement(scale: float) -> Any:
    space = vector_domain(atom_domain(T="i64")), l2_distance(T="f64")
    return space >> dp_m.then_gaussian(scale=scale)


@functools.lru_cache(maxsize=65536)
def calibrate(l2_sensitivity: float, rho: float) -> Calibration:
    """The smallest scale (to float precision) whose OpenDP privacy map stays within ``rho``."""
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a positive finite number, got {rho}")
    if not (math.isfinite(l2_sensitivity) and l2_sensitivity > 0):
        raise ValueError(f"sensitivity must be a positive finite number, got {l2_sensitivity}")
    scale = l2_sensitivity / math.sqrt(2.0 * rho)
    for _ in range(64):
        charged = float(_measurement(scale).map(l2_sensitivity))
        if charged <= rho:
            return Calibration(scale, l2_sensitivity, charged)
        scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
    raise RuntimeError(f"could not calibrate a scale for rho={rho}")


def charged_rho(scale: float, l2_sensitivity: float) -> float:
    """What OpenDP's privacy map says a measurement of this scale costs at this sensitivity."""
    return float(_measurement(scale).map(l2_sensitivity))


def add_noise(values: Sequence[int], scale: float) -> list[int]:
    """Release ``values`` with discrete Gaussian noise of ``scale`` (OpenDP), signed."""
    if not values:
        return []
    return [int(v) for v in _measurement(scale)([int(v) for v in values])]


@functools.lru_cache(maxsize=4096)
def halfwidth_95(scale: float) -> float:
    """The smallest integer h with P(|noise| <= h) >= 95% for discrete Gaussian noise of ``scale``.

    OpenDP's accuracy ``a`` satisfies P(|noise| >= a) <= 5%, so h = a - 1.
    """
    accuracy = discrete_gaussian_scale_to_accuracy(scale=float(scale), alpha=0.05, T="f64")
    return max(float(accuracy) - 1.0, 0.0)


@functools.lru_cache(maxsize=1024)
def epsilon_at(rho: float, delta: float) -> float:
    """Express a zCDP rho as epsilon at ``delta``, by OpenDP's conversion."""
    if rho <= 0:
        return 0.0
    single = dp_m.make_gaussian(
        atom_domain(T=float, nan=False),
        absolute_distance(T=float),
        scale=1.0 / math.sqrt(2.0 * rho),
    )
    try:
        profile = dp_c.make_zCDP_to_approxDP(single).map(1.0)  # type: ignore[no-untyped-call]
        return float(profile.epsilon(delta))
    except OpenDPException:
        # Beyond OpenDP's numeric range (absurd budgets): the classic bound, still an upper bound.
        return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))
