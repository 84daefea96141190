"""The champion gate's decisions on crafted intervals (no registry needed: `decide` is pure)."""

from __future__ import annotations

import pytest

from crosstrain.evaluation.stats import Interval
from crosstrain.tracking.gate import decide


def seeds(mean: float, half: float, n: int = 3) -> Interval:
    return Interval(mean, mean - half, mean + half, n)


@pytest.mark.parametrize(
    ("candidate", "champion", "min_delta", "decision", "why"),
    [
        (seeds(0.85, 0.01), None, 0.0, "rejected", "below min_score 0.9"),
        (seeds(0.95, 0.01), None, 0.0, "promoted", "no champion"),
        (seeds(0.96, 0.01), seeds(0.95, 0.01), 0.0, "kept", "intervals overlap"),
        (seeds(0.98, 0.005), seeds(0.95, 0.005), 0.0, "promoted", "intervals apart"),
        (seeds(0.98, 0.005), seeds(0.95, 0.005), 0.05, "kept", "min_delta 0.05"),
        (seeds(0.95, 0.01), seeds(0.95, 0.01), 0.0, "kept", "difference +0.0000"),
        (seeds(0.94, 0.0, n=1), seeds(0.93, 0.0, n=1), 0.0, "promoted", "beats"),  # one seed: means decide
        (seeds(0.97, 0.05), seeds(0.93, 0.0, n=1), 0.0, "promoted", "beats"),      # no interval on one side
    ],
    ids=["below-min-score", "first-champion", "overlap", "apart", "under-min-delta", "equal", "one-seed",
         "mixed-seeds"],
)
def test_decide(candidate, champion, min_delta, decision, why) -> None:
    verdict = decide("test_accuracy", candidate, champion, min_score=0.9, min_delta=min_delta)
    assert verdict.decision == decision
    assert why.split()[-1] in verdict.reason
    assert verdict.promote == (decision == "promoted")
