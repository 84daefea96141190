"""The statistics behind every interval and verdict: report, compare and the register gate use only these.

Three to five seeds (or timing rounds) are too few for a percentile bootstrap: over 3 values it is
about [min, max], which covers the mean only ~74% of the time. Student's t uses the same values
and says how little they tell: over 3 seeds the 95% half-width is 4.30 standard errors.

- `mean_ci`: mean over seeds with its t-interval (`METHOD`); one value has no interval.
- `paired_t`: a paired difference (per seed, per timing round) as an `Estimate`.
- `crossed_difference`: accuracy(a) - accuracy(b) from 0/1 correctness per seed and test example,
  with seed-to-seed and example-to-example variance both counted (a crossed random-effects
  decomposition; why not a two-level bootstrap: its seed level has the same 3-value problem).
- `outcome`: "difference", "equivalent" (two one-sided tests, TOST) or "inconclusive", and
  `holm` for several questions at once.

Everything is closed form, so the same inputs always give the same numbers.

    >>> mean_ci([0.93, 0.95, 0.97]).excludes_zero
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

METHOD = "t-interval"
Outcome = Literal["difference", "equivalent", "inconclusive"]
# A "would need" larger than this is reported as "more than" it: the variance estimate is too rough.
NEED_CAP = 10_000


# scipy.special's ufuncs rather than scipy.stats' distribution objects: the same numbers, ~100x faster,
# which the simulations (thousands of verdicts) need.
# Each takes and returns a float or an array of them (numpy broadcasting), as the ufuncs do.
def _t_ppf(q: float | np.ndarray, df: float | np.ndarray) -> Any:
    return special.stdtrit(df, q)


def _t_sf(x: float | np.ndarray, df: float | np.ndarray) -> Any:
    return special.stdtr(df, -x)


def _t_cdf(x: float | np.ndarray, df: float | np.ndarray) -> Any:
    return special.stdtr(df, x)


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval [low, high] from `n` values.

    With n == 1 there is no interval: low == high == mean, and `has_interval` is False.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        """Whether [low, high] rests on a spread (at least two values)."""
        return self.n >= 2

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share any point (touching ends count). Descriptive only: not a test."""
        return self.low <= other.high and other.low <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Whether 0 lies outside [low, high]: for a difference, a significant one."""
        return self.low > 0.0 or self.high < 0.0

    def __str__(self) -> str:
        if not self.has_interval:
            return f"{self.mean:.4g} (1 value, no interval)"
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}]"


def _as_array(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("a confidence interval needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError("a confidence interval needs finite values")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def mean_ci(
    values: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    samples: int | None = None,
    seed: int | None = None,
) -> Interval:
    """Mean of `values` (e.g. one metric over seeds) with its Student-t interval (`METHOD`).

    `samples` and `seed` are accepted for callers written for the old bootstrap and ignored: the
    t-interval is exact arithmetic. One value gives no interval (low == high == mean, n == 1).
    """
    del samples, seed
    _check_confidence(confidence)
    arr = _as_array(values)
    mean, n = float(arr.mean()), int(arr.size)
    if n == 1:
        return Interval(mean, mean, mean, 1)
    half = float(_t_ppf(0.5 + confidence / 2.0, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired_diff_ci(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.95, *_, **__
) -> Interval:
    """t-interval of the mean of `a - b`, rows paired (a[i] with b[i]): shared row effects cancel.

    Extra arguments (the old bootstrap's samples and seed) are ignored, as in `mean_ci`.
    """
    left, right = _as_array(a), _as_array(b)
    if left.shape != right.shape:
        raise ValueError(f"paired values must align: {left.size} vs {right.size} rows")
    return mean_ci(left - right, confidence)


# --- estimates, tests, decisions ------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A difference (or log-ratio) `mean` with its standard error `se` on `df` degrees of freedom.

    `n` is the number of independent units it rests on (seeds, rounds); `df` is NaN when no
    variance could be estimated (one unit).
    """

    mean: float
    se: float
    df: float
    n: int

    @property
    def known(self) -> bool:
        """Whether a variance was estimated (at least two units)."""
        return self.n >= 2 and not math.isnan(self.df)

    def interval(self, confidence: float) -> tuple[float, float]:
        """The two-sided `confidence` interval; (mean, mean) when nothing is known of the variance."""
        if not self.known:
            return self.mean, self.mean
        half = float(_t_ppf(0.5 + confidence / 2.0, self.df)) * self.se
        return self.mean - half, self.mean + half

    def p_zero(self) -> float:
        """Two-sided p-value of H0: the true value is 0."""
        if not self.known:
            return 1.0
        if self.se == 0.0:
            return 1.0 if self.mean == 0.0 else 0.0
        return float(2.0 * _t_sf(abs(self.mean) / self.se, self.df))

    def p_equivalent(self, lower: float, upper: float) -> float:
        """TOST p-value of H0: the true value is <= lower or >= upper (the larger one-sided p)."""
        if not self.known:
            return 1.0
        if self.se == 0.0:
            return 0.0 if lower < self.mean < upper else 1.0
        p_low = _t_sf((self.mean - lower) / self.se, self.df)
        p_high = _t_cdf((self.mean - upper) / self.se, self.df)
        return float(max(p_low, p_high))


def paired_t(diffs: Sequence[float] | np.ndarray) -> Estimate:
    """The mean of paired differences (one per seed or timing round) with its t standard error."""
    arr = _as_array(diffs)
    n = int(arr.size)
    if n < 2:
        return Estimate(float(arr.mean()), math.nan, math.nan, n)
    return Estimate(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(n)), float(n - 1), n)


@dataclass(frozen=True)
class Crossed(Estimate):
    """A `crossed_difference`: the Estimate plus its variance components, for "would need" figures.

    `var_seed`, `var_example`, `var_residual` are the seed, example and seed x example variances
    of the per-example difference; `examples` the test examples (`n` is the seeds).
    """

    examples: int = 0
    var_seed: float = math.nan
    var_example: float = math.nan
    var_residual: float = math.nan

    def variance_at(self, seeds: float, examples: float) -> float:
        """The variance of the mean difference with `seeds` seeds and `examples` test examples."""
        return self.var_seed / seeds + self.var_example / examples + self.var_residual / (seeds * examples)


def crossed_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> Crossed:
    """accuracy(a) - accuracy(b) over seeds x test examples, counting both sources of variance.

    Args:
        correct_a: [seeds, examples] 0/1 correctness of framework a; row s is seed s.
        correct_b: The same for b, rows in the same seed order (seed s gave both frameworks the
            same initial weights and batches, so the rows are paired) and columns the same examples.

    Returns:
        The mean difference, with Var = (MS_seed + MS_example - MS_residual) / (seeds x examples)
        from the two-way ANOVA of d = a - b (crossed random effects: seed + example + residual),
        and Satterthwaite's degrees of freedom. With one seed, seed variance is unknown (df NaN).
    """
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(
            f"correctness must be two aligned [seeds, examples] arrays, got {a.shape} and {b.shape}"
        )
    d = a - b
    seeds, examples = d.shape
    mean = float(d.mean())
    if seeds < 2 or examples < 2:
        return Crossed(mean, math.nan, math.nan, seeds, examples=examples)
    by_seed, by_example = d.mean(axis=1), d.mean(axis=0)
    ms_seed = examples * float(np.sum((by_seed - mean) ** 2)) / (seeds - 1)
    ms_example = seeds * float(np.sum((by_example - mean) ** 2)) / (examples - 1)
    resid = d - by_seed[:, None] - by_example[None, :] + mean
    ms_resid = float(np.sum(resid**2)) / ((seeds - 1) * (examples - 1))
    # Each mean square alone is also a lower bound on the variance: take the largest estimate so a
    # negative variance component never shrinks the interval below what one factor alone shows.
    terms = [(ms_seed, seeds - 1), (ms_example, examples - 1), (-ms_resid, (seeds - 1) * (examples - 1))]
    combined = ms_seed + ms_example - ms_resid
    if combined < max(ms_seed, ms_example):
        terms = [max(terms[:2], key=lambda t: t[0])]
        combined = terms[0][0]
    denom = sum(ms**2 / dof for ms, dof in terms)
    df = combined**2 / denom if denom > 0 else math.inf
    return Crossed(
        mean,
        math.sqrt(combined / (seeds * examples)),
        float(df),
        seeds,
        examples=examples,
        var_seed=max(0.0, (ms_seed - ms_resid) / examples),
        var_example=max(0.0, (ms_example - ms_resid) / seeds),
        var_residual=ms_resid,
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: rejecting where adjusted p < alpha keeps the family-wise
    error <= alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def outcome(p_zero: float, p_equivalent: float, alpha: float) -> Outcome:
    """Which claim the (already adjusted) p-values allow at level `alpha`: a difference first, then
    equivalence."""
    if p_zero < alpha:
        return "difference"
    if p_equivalent < alpha:
        return "equivalent"
    return "inconclusive"


def target_half_width(mean: float, lower: float, upper: float) -> float:
    """The interval half-width that would settle it at the observed `mean`: show a difference or
    equivalence."""
    inside = min(upper - mean, mean - lower)
    return max(abs(mean), inside)


def units_needed(sd: float, half_width: float, confidence: float) -> int | None:
    """About how many paired units (rounds, seeds) give a `confidence` t half-width <= `half_width`.

    None when no spread is known; NEED_CAP + 1 means "more than NEED_CAP".
    """
    if not (math.isfinite(sd) and sd > 0.0 and half_width > 0.0):
        return None
    # The normal answer is a lower bound; t's heavier tail adds a few units, never a hundred.
    start = max(2, math.floor((float(special.ndtri(0.5 + confidence / 2.0)) * sd / half_width) ** 2))
    if start > NEED_CAP:
        return NEED_CAP + 1
    n = np.arange(start, start + 100)
    fits = _t_ppf(0.5 + confidence / 2.0, n - 1) * sd / np.sqrt(n) <= half_width
    return int(n[np.argmax(fits)]) if fits.any() and n[np.argmax(fits)] <= NEED_CAP else NEED_CAP + 1


def crossed_needed(est: Crossed, half_width: float, confidence: float) -> tuple[int | None, int | None]:
    """(seeds at the current test examples, test examples at the current seeds) for that half-width.

    Normal quantile, from the observed variance components: a rough planning figure. None where no
    number suffices (the other factor's variance alone is too large) or nothing is known.
    """
    if not est.known or half_width <= 0.0:
        return None, None
    target = (half_width / float(special.ndtri(0.5 + confidence / 2.0))) ** 2
    seeds = examples = None
    room = target - est.var_example / est.examples
    if room > 0:
        seeds = math.ceil((est.var_seed + est.var_residual / est.examples) / room)
    room = target - est.var_seed / est.n
    if room > 0:
        examples = math.ceil((est.var_example + est.var_residual / est.n) / room)
    cap = NEED_CAP * 100  # examples are cheap to count; seeds are capped in the wording
    seeds_needed = None if seeds is None else max(seeds, 2)
    return seeds_needed, (None if examples is None else min(max(examples, 2), cap))
