"""Bootstrap intervals against cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crosstrain.evaluation.stats import Interval, mean_ci, paired_diff_ci


def test_constant_values_give_a_zero_width_interval():
    ci = mean_ci([0.9, 0.9, 0.9])
    assert (ci.mean, ci.low, ci.high, ci.n) == (0.9, 0.9, 0.9, 3)


def test_one_value_is_its_own_interval():
    assert mean_ci([0.75]) == Interval(0.75, 0.75, 0.75, 1)


def test_large_sample_matches_normal_theory():
    # Given 2000 draws from N(5, 2), the bootstrap 95% CI is close to mean ± 1.96 s/√n.
    values = np.random.default_rng(1).normal(5.0, 2.0, size=2000)
    ci = mean_ci(values, confidence=0.95, samples=4000, seed=3)
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert ci.mean == pytest.approx(values.mean())
    assert ci.low == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert ci.high == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_higher_confidence_is_wider():
    values = [0.91, 0.95, 0.93, 0.97, 0.90]
    narrow, wide = mean_ci(values, confidence=0.5), mean_ci(values, confidence=0.99)
    assert wide.low <= narrow.low <= narrow.high <= wide.high


def test_paired_difference_of_identical_scores_is_zero():
    a = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 2 / 3])
    ci = paired_diff_ci(a, a.copy())
    assert (ci.mean, ci.low, ci.high) == (0.0, 0.0, 0.0)
    assert not ci.excludes_zero


def test_clearly_different_scores_exclude_zero():
    rng = np.random.default_rng(0)
    a = (rng.random(300) < 0.95).astype(float)
    b = (rng.random(300) < 0.60).astype(float)
    ci = paired_diff_ci(a, b)
    assert ci.excludes_zero and ci.low > 0.2
    assert paired_diff_ci(b, a).high < -0.2


def test_pairing_cancels_shared_difficulty():
    # Given b = a minus a small constant on every row, the paired CI is tight; an unpaired one is not.
    a = np.random.default_rng(2).random(200)
    ci = paired_diff_ci(a, a - 0.01)
    assert ci.low == pytest.approx(0.01) and ci.high == pytest.approx(0.01)
    assert mean_ci(a - 0.01).overlaps(mean_ci(a))


def test_same_seed_same_interval_and_another_seed_differs():
    values = np.random.default_rng(4).random(40)
    assert mean_ci(values, seed=7) == mean_ci(values, seed=7)
    assert mean_ci(values, seed=7) != mean_ci(values, seed=8)


def test_overlaps_and_excludes_zero():
    assert Interval(1, 0, 2, 3).overlaps(Interval(3, 2, 4, 3))  # touching ends overlap
    assert not Interval(1, 0, 1.5, 3).overlaps(Interval(3, 2, 4, 3))
    assert Interval(0.5, 0.1, 0.9, 3).excludes_zero
    assert Interval(-0.5, -0.9, -0.1, 3).excludes_zero
    assert not Interval(0.1, -0.1, 0.3, 3).excludes_zero


@pytest.mark.parametrize("bad", [[], [float("nan")], [1.0, float("inf")]])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError):
        mean_ci(bad)


def test_misaligned_pairs_are_refused():
    with pytest.raises(ValueError, match="align"):
        paired_diff_ci([1.0, 0.0], [1.0])
