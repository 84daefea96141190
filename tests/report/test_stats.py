"""The statistics against cases whose answer is known, and coverage simulations (seeded, vectorised, fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from crosstrain.evaluation.stats import (
    METHOD,
    Interval,
    crossed_difference,
    holm,
    mean_ci,
    outcome,
    paired_diff_ci,
    paired_t,
    units_needed,
)


def test_method_is_named_t_interval():
    assert METHOD == "t-interval"


def test_three_values_give_the_student_t_half_width():
    # Given 0.93, 0.95, 0.97 (s = 0.02), the 95% half-width is t(0.975, 2) * 0.02 / sqrt(3) = 0.0497.
    ci = mean_ci([0.93, 0.95, 0.97])
    assert ci.mean == pytest.approx(0.95)
    assert ci.high - ci.mean == pytest.approx(4.3027 * 0.02 / math.sqrt(3), rel=1e-4)
    assert ci.low < 0.93 and ci.high > 0.97  # wider than [min, max], which a bootstrap would give


def test_constant_values_give_a_zero_width_interval():
    ci = mean_ci([0.9, 0.9, 0.9])
    assert (ci.mean, ci.low, ci.high, ci.n) == (pytest.approx(0.9), pytest.approx(0.9), pytest.approx(0.9), 3)


def test_one_value_has_no_interval_and_says_so():
    ci = mean_ci([0.75])
    assert ci == Interval(0.75, 0.75, 0.75, 1) and not ci.has_interval
    assert "no interval" in str(ci)


def test_higher_confidence_is_strictly_wider():
    values = [0.91, 0.95, 0.93, 0.97, 0.90]
    narrow, wide = mean_ci(values, confidence=0.5), mean_ci(values, confidence=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize("n", [3, 5])
def test_t_interval_covers_a_normal_mean_at_least_93_percent(n):
    # Given 4000 samples of n draws from N(10, 3), the 95% interval holds 10 in >= 93% of them.
    draws = np.random.default_rng(n).normal(10.0, 3.0, size=(4000, n))
    covered = 0
    for row in draws:
        ci = mean_ci(row)
        covered += ci.low <= 10.0 <= ci.high
    assert covered / len(draws) >= 0.93
    # and: a [min, max] interval (what a percentile bootstrap of 3 values is) would not
    if n == 3:
        assert np.mean((draws.min(1) <= 10) & (draws.max(1) >= 10)) < 0.80


def test_paired_difference_of_identical_scores_is_zero():
    a = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 2 / 3])
    ci = paired_diff_ci(a, a.copy())
    assert (ci.mean, ci.low, ci.high) == (0.0, 0.0, 0.0)
    assert not ci.excludes_zero


def test_pairing_cancels_shared_difficulty():
    # Given b = a minus a small constant on every row, the paired CI is tight; an unpaired one is not.
    a = np.random.default_rng(2).random(200)
    ci = paired_diff_ci(a, a - 0.01)
    assert ci.low == pytest.approx(0.01) and ci.high == pytest.approx(0.01)
    assert mean_ci(a - 0.01).overlaps(mean_ci(a))


@pytest.mark.parametrize("bad", [[], [float("nan")], [1.0, float("inf")]])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError):
        mean_ci(bad)


def test_misaligned_pairs_are_refused():
    with pytest.raises(ValueError, match="align"):
        paired_diff_ci([1.0, 0.0], [1.0])


# --- tests and decisions ------------------------------------------------------------------------


def test_paired_t_p_value_matches_scipy():
    diffs = [0.3, 0.1, 0.25, 0.4]
    est = paired_t(diffs)
    assert est.p_zero() == pytest.approx(sps.ttest_1samp(diffs, 0.0).pvalue)


def test_tost_is_the_larger_one_sided_p():
    est = paired_t([0.001, -0.002, 0.0015, 0.0, -0.001])
    lower = sps.ttest_1samp(np.array([0.001, -0.002, 0.0015, 0.0, -0.001]) + 0.01, 0.0, alternative="greater")
    upper = sps.ttest_1samp(np.array([0.001, -0.002, 0.0015, 0.0, -0.001]) - 0.01, 0.0, alternative="less")
    assert est.p_equivalent(-0.01, 0.01) == pytest.approx(max(lower.pvalue, upper.pvalue))
    # and: a tighter margin than the spread allows is not equivalent
    assert est.p_equivalent(-0.001, 0.001) > 0.05


def test_outcome_prefers_a_difference_then_equivalence():
    assert outcome(0.01, 0.01, 0.05) == "difference"
    assert outcome(0.2, 0.01, 0.05) == "equivalent"
    assert outcome(0.2, 0.2, 0.05) == "inconclusive"


def test_holm_matches_the_step_down_definition():
    # p sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone); order restored.
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.01]) == pytest.approx([0.01])


def test_units_needed_shrinks_the_interval_enough():
    n = units_needed(sd=0.1, half_width=0.02, confidence=0.95)
    assert sps.t.ppf(0.975, n - 1) * 0.1 / math.sqrt(n) <= 0.02
    assert sps.t.ppf(0.975, n - 2) * 0.1 / math.sqrt(n - 1) > 0.02
    assert units_needed(sd=math.nan, half_width=0.02, confidence=0.95) is None


# --- the accuracy procedure: seeds x test examples ------------------------------------------------


def _simulate(rng, seeds: int, examples: int, reps: int, tau: float):
    """Correctness of two frameworks whose seeds (paired, correlated) and examples both vary; the truth."""
    z = rng.normal(1.5, 1.5, size=(reps, 1, examples))  # example difficulty, shared by both
    shared = rng.normal(0.0, tau, size=(reps, seeds, 1))  # what a seed does to both (same init, batches)
    ga = 0.6 * shared + 0.8 * rng.normal(0.0, tau, size=(reps, seeds, 1))
    gb = 0.6 * shared + 0.8 * rng.normal(0.0, tau, size=(reps, seeds, 1))
    pa, pb = 1 / (1 + np.exp(-(z + 0.3 + ga))), 1 / (1 + np.exp(-(z + gb)))
    ca = (rng.random(pa.shape) < pa).astype(float)
    cb = (rng.random(pb.shape) < pb).astype(float)
    # The true difference: the same model's expectation over many examples and seeds.
    zt, st = rng.normal(1.5, 1.5, 200_000), rng.normal(0.0, tau, 200_000)
    gat = 0.6 * st + 0.8 * rng.normal(0.0, tau, 200_000)
    gbt = 0.6 * st + 0.8 * rng.normal(0.0, tau, 200_000)
    truth = np.mean(1 / (1 + np.exp(-(zt + 0.3 + gat))) - 1 / (1 + np.exp(-(zt + gbt))))
    return ca, cb, truth


@pytest.mark.parametrize("seeds", [3, 5])
def test_crossed_difference_covers_the_true_accuracy_difference(seeds):
    # Given 1500 simulated comparisons with both seed and example variance, the 95% interval holds
    # the true difference in >= 93% of them; counting examples only (the old procedure) does not.
    rng = np.random.default_rng(10 + seeds)
    ca, cb, truth = _simulate(rng, seeds, 60, 1500, tau=1.2)
    covered = examples_only = 0
    for a, b in zip(ca, cb, strict=True):
        low, high = crossed_difference(a, b).interval(0.95)
        covered += low <= truth <= high
        per_example = paired_diff_ci(a.mean(0), b.mean(0))
        examples_only += per_example.low <= truth <= per_example.high
    assert covered / len(ca) >= 0.93
    assert examples_only / len(ca) < 0.92


def test_crossed_difference_with_one_seed_knows_no_variance():
    est = crossed_difference(np.ones((1, 10)), np.zeros((1, 10)))
    assert est.mean == 1.0 and not est.known and est.p_zero() == 1.0


def test_crossed_difference_refuses_misaligned_arrays():
    with pytest.raises(ValueError, match="aligned"):
        crossed_difference(np.ones((3, 10)), np.ones((3, 9)))
