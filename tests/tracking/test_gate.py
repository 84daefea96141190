"""The champion gate's decisions on crafted scores (no registry needed: `decide`, `choose` are pure)."""

from __future__ import annotations

import math

import pytest

from crosstrain.config import Settings
from crosstrain.evaluation.stats import mean_ci
from crosstrain.tracking.gate import Option, Scores, choose, decide, tie_break
from crosstrain.tracking.registry import Candidate, pick_best


def seeds(*values: float) -> Scores:
    return Scores.of(values)


@pytest.mark.parametrize(
    ("candidate", "champion", "min_delta", "decision", "why"),
    [
        (seeds(0.85, 0.86, 0.84), None, 0.0, "rejected", "below min_score 0.9"),
        (seeds(0.95, 0.96, 0.94), None, 0.0, "promoted", "no champion"),
        # ahead by 0.01 with a seed sd of 0.01: not beyond noise
        (seeds(0.95, 0.96, 0.97), seeds(0.94, 0.95, 0.96), 0.0, "kept", "not shown beyond noise"),
        (seeds(0.98, 0.981, 0.979), seeds(0.95, 0.951, 0.949), 0.0, "promoted", "Welch"),
        (seeds(0.98, 0.981, 0.979), seeds(0.95, 0.951, 0.949), 0.05, "kept", "min_delta 0.05"),
        (seeds(0.95, 0.95, 0.95), seeds(0.95, 0.95, 0.95), 0.0, "kept", "an exact tie"),
        (seeds(0.94), seeds(0.93), 0.0, "promoted", "means alone decide"),  # one seed each: said so
        (seeds(0.98, 0.981, 0.979), seeds(0.93), 0.0, "promoted", "borrows the candidate's seed spread"),
    ],
    ids=["below-min-score", "first-champion", "within-noise", "beyond-noise", "under-min-delta", "exact-tie",
         "one-seed", "mixed-seeds"],
)
def test_decide(candidate, champion, min_delta, decision, why) -> None:
    verdict = decide("test_accuracy", candidate, champion, min_score=0.9, min_delta=min_delta)
    assert verdict.decision == decision
    assert why in verdict.reason
    assert verdict.promote == (decision == "promoted")


def test_overlapping_intervals_can_still_be_a_significant_difference():
    # Given two groups whose 95% t-intervals overlap, the Welch test of the difference still shows it:
    # overlap is not a test (it is far too strict), which is why the gate no longer uses it.
    a, b = (0.960, 0.962, 0.964, 0.966, 0.968), (0.954, 0.956, 0.958, 0.960, 0.962)
    assert mean_ci(a).overlaps(mean_ci(b))
    assert decide("test_accuracy", Scores.of(a), Scores.of(b), 0.9, 0.0).decision == "promoted"


def test_a_higher_confidence_needs_more_evidence():
    cand, champ = seeds(0.96, 0.965, 0.97), seeds(0.95, 0.955, 0.96)
    assert decide("m", cand, champ, 0.9, 0.0, confidence=0.95).decision == "promoted"
    assert decide("m", cand, champ, 0.9, 0.0, confidence=0.9999).decision == "kept"


# --- which framework: the accuracy verdict, then the declared tie-breaker ---------------------------

OPTIONS = [Option("tensorflow", log_loss=0.30, macro_f1=0.95),
           Option("pytorch", log_loss=0.10, macro_f1=0.90)]


@pytest.mark.parametrize(
    ("tie_breaker", "picked", "why"),
    [
        ("test_log_loss", "pytorch", "tie-breaker register.tie_breaker=test_log_loss picked pytorch (lower"),
        ("test_macro_f1", "tensorflow",
         "tie-breaker register.tie_breaker=test_macro_f1 picked tensorflow (higher"),
        ("framework_order", "tensorflow", "framework_order picked tensorflow, listed first"),
    ],
)
def test_an_inconclusive_accuracy_goes_to_the_declared_tie_breaker(tie_breaker, picked, why):
    framework, reason = choose("inconclusive", None, "accuracy inconclusive (...)", OPTIONS,
                               {"tensorflow": 0.95, "pytorch": 0.94}, tie_breaker)
    assert framework == picked
    assert reason.startswith("accuracy inconclusive") and why in reason


def test_an_equivalent_accuracy_says_so_and_names_the_tie_breaker():
    framework, reason = choose("equivalent", None, "accuracy equivalent within ±1.0 points (...)", OPTIONS,
                               {"tensorflow": 0.95, "pytorch": 0.95}, "test_log_loss")
    assert framework == "pytorch"
    assert "equivalent" in reason and "an exact tie in the means" in reason and "test_log_loss" in reason


def test_a_significant_difference_overrides_the_tie_breaker():
    framework, reason = choose("difference", "tensorflow", "tensorflow is more accurate than pytorch by 3.0",
                               OPTIONS, {"tensorflow": 0.97, "pytorch": 0.94}, "test_log_loss")
    assert framework == "tensorflow" and "tie-breaker" not in reason


def test_a_tie_in_the_tie_breaker_goes_to_the_framework_listed_first_and_says_so():
    options = [Option("pytorch", log_loss=0.2), Option("tensorflow", log_loss=0.2)]
    framework, reason = tie_break(options, "test_log_loss")
    assert framework == "pytorch" and "tied too" in reason and "listed first" in reason


def _candidate(framework: str, values: list[float], log_loss: float = 0.2) -> Candidate:
    return Candidate(framework, f"run-{framework}", f"models:/m-{framework}", 0, mean_ci(values), log_loss,
                     tuple(enumerate(values)))


def test_pick_best_follows_a_seeds_only_paired_test_and_says_so():
    # Given pytorch ahead on every seed by ~5 points (paired by seed), it is picked whatever the log-loss.
    tf = _candidate("tensorflow", [0.90, 0.92, 0.91], log_loss=0.1)
    pt = _candidate("pytorch", [0.95, 0.97, 0.96], log_loss=0.9)
    best, reason = pick_best([tf, pt], Settings())
    assert best.framework == "pytorch" and "seeds-only paired t-test" in reason
    # and: reversed, tensorflow is picked (the direction is the metric's, higher is better)
    best, _ = pick_best([_candidate("tensorflow", [0.95, 0.97, 0.96]),
                         _candidate("pytorch", [0.90, 0.92, 0.91])])
    assert best.framework == "tensorflow"


def test_pick_best_on_one_seed_each_is_inconclusive_and_uses_the_tie_breaker():
    tf, pt = _candidate("tensorflow", [0.97], log_loss=0.3), _candidate("pytorch", [0.92], log_loss=0.1)
    best, reason = pick_best([tf, pt], Settings())
    assert best.framework == "pytorch"
    assert "inconclusive" in reason and "test_log_loss" in reason


def test_pick_best_uses_the_reports_test_when_predictions_are_given():
    rows = {fw: [{"seed": s, "index": i, "actual": "x",
                  "predicted": "x" if (i % 10 or fw == "pytorch") else "y"}
                 for s in range(3) for i in range(300)] for fw in ("tensorflow", "pytorch")}
    tf, pt = _candidate("tensorflow", [0.9, 0.9, 0.9]), _candidate("pytorch", [1.0, 1.0, 1.0])
    best, reason = pick_best([tf, pt], Settings(), "iris", rows)
    assert best.framework == "pytorch" and "seeds x test examples" in reason
    assert "more accurate than tensorflow" in reason
    assert not math.isnan(best.score)
