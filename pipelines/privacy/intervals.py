"""Honest 95% intervals for published cells, and the post-processing that keeps values sensible.

- A count or sum carries OpenDP's exact discrete-Gaussian half-width around
  its noisy value; the value is then clamped at zero and the interval clipped
  to zero (neither costs privacy nor lowers coverage: the truth is never
  negative). A total change in scores can truly be negative and is not clamped.
- A sum of released cells (a rollup) carries a normal-approximation interval
  with the summed variance.
- A ratio (a share, a mean) uses Fieller's method: the set of ratios r for
  which ``numerator - r * denominator`` is within 1.96 standard deviations of
  zero. It covers the true ratio 95% of the time whatever the denominator
  (no delta-method approximation), is clipped to the ratio's possible range,
  and is unbounded, so the cell is withheld, when the denominator cannot be
  told apart from zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipelines.privacy.mechanisms import Z_95, halfwidth_95


@dataclass(frozen=True)
class Noisy:
    """A released number before post-processing: its noisy value and the noise's scale."""

    value: float
    scale: float  # standard deviation of the noise (a rollup: of the summed noise)
    exact_discrete: bool = True  # one discrete-Gaussian draw; False for sums of several


@dataclass(frozen=True)
class Estimate:
    """A published value and its 95% interval; ``value is None`` when it cannot be estimated."""

    value: float | None
    low: float | None
    high: float | None

    @property
    def halfwidth(self) -> float:
        if self.low is None or self.high is None:
            return math.inf
        return (self.high - self.low) / 2


def count_estimate(noisy: Noisy) -> Estimate:
    """Clamp at zero; interval from the exact discrete quantile (or normal for summed noise)."""
    h = halfwidth_95(noisy.scale) if noisy.exact_discrete else Z_95 * noisy.scale
    v = noisy.value
    return Estimate(max(v, 0.0), max(v - h, 0.0), max(v + h, 0.0))


def rollup(parts: list[Noisy]) -> Noisy:
    """The sum of independent noisy cells: values add, variances add."""
    return Noisy(
        sum(p.value for p in parts),
        math.sqrt(sum(p.scale**2 for p in parts)),
        exact_discrete=len(parts) == 1 and parts[0].exact_discrete,
    )


def fieller(numerator: Noisy, denominator: Noisy, low: float, high: float) -> Estimate:
    """A ratio estimate with its 95% Fieller interval, clipped to ``[low, high]``."""
    n, d = numerator.value, denominator.value
    sn2, sd2, z2 = numerator.scale**2, denominator.scale**2, Z_95**2
    a = d * d - z2 * sd2
    if d <= 0 or a <= 0:
        return Estimate(None, None, None)  # the denominator may be zero: no finite interval
    b = -2.0 * n * d
    c = n * n - z2 * sn2
    disc = max(b * b - 4.0 * a * c, 0.0)
    root = math.sqrt(disc)
    lo, hi = (-b - root) / (2.0 * a), (-b + root) / (2.0 * a)
    return Estimate(_clip(n / d, low, high), _clip(lo, low, high), _clip(hi, low, high))


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)
