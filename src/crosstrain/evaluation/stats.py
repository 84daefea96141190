"""Confidence intervals by the bootstrap: the one place report, compare and the register gate get them.

Three seeds are too few for normal theory to be honest about its assumptions, and per-example
correctness is far from normal; the percentile bootstrap needs neither. Everything is seeded
(`numpy.random.default_rng(seed)`), so the same inputs always give the same interval.

    >>> mean_ci([0.93, 0.95, 0.97]).excludes_zero
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval [low, high] from `n` values."""

    mean: float
    low: float
    high: float
    n: int

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share any point (touching ends count as overlapping)."""
        return self.low <= other.high and other.low <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Whether 0 lies outside [low, high]: for a difference, a significant one."""
        return self.low > 0.0 or self.high < 0.0

    def __str__(self) -> str:
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}]"


def _as_array(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("a confidence interval needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError("a confidence interval needs finite values")
    return arr


def _bootstrap_mean(arr: np.ndarray, confidence: float, samples: int, seed: int) -> Interval:
    """Percentile bootstrap of the mean of `arr` (resampling its entries with replacement)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(arr.mean())
    n = int(arr.size)
    # One value, or all equal: every resample has the same mean; no randomness needed or wanted.
    if n == 1 or np.ptp(arr) == 0.0:
        return Interval(mean, mean, mean, n)
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    # Chunked so a 10k x 10k test set does not need one 800 MB index matrix.
    chunk = max(1, 4_000_000 // n)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = arr[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    # Floating-point summation can put a quantile a hair outside the mean for tiny spreads.
    return Interval(mean, float(min(low, mean)), float(max(high, mean)), n)


def mean_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95, samples: int = 10_000, seed: int = 0
) -> Interval:
    """Mean of `values` (e.g. one metric over seeds) with a bootstrap percentile interval.

    With a single value the interval is that value (low == high == mean): no spread is known.
    """
    return _bootstrap_mean(_as_array(values), confidence, samples, seed)


def paired_diff_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    samples: int = 10_000,
    seed: int = 0,
) -> Interval:
    """Mean of `a - b` with a paired bootstrap interval: rows are resampled, keeping a[i] with b[i].

    `a` and `b` are per-example scores aligned by row (e.g. each test example's correctness averaged
    over seeds, for two frameworks); pairing removes the examples' shared difficulty from the noise.
    """
    left, right = _as_array(a), _as_array(b)
    if left.shape != right.shape:
        raise ValueError(f"paired values must align: {left.size} vs {right.size} rows")
    return _bootstrap_mean(left - right, confidence, samples, seed)
