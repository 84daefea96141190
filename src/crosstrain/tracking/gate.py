"""The champion gate: whether a new candidate may take the `champion` alias, and why.

Like TFX's model "blessing": a candidate replaces the champion only when it is better by a margin
that is not noise. With several seeds, "better" means the confidence intervals of the two means do
not overlap; with one seed on either side there is no interval and the means decide alone.
Every decision carries its reason, which `register` records as tags on the model version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crosstrain.evaluation.stats import Interval

Decision = Literal["promoted", "kept", "rejected"]


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str

    @property
    def promote(self) -> bool:
        return self.decision == "promoted"


def _fmt(interval: Interval) -> str:
    if interval.n < 2:
        return f"{interval.mean:.4f} (1 seed)"
    return f"{interval.mean:.4f} [{interval.low:.4f}, {interval.high:.4f}] ({interval.n} seeds)"


def decide(metric: str, candidate: Interval, champion: Interval | None, min_score: float,
           min_delta: float) -> Verdict:
    """Promote, keep the current champion, or reject the candidate outright (below `min_score`)."""
    if candidate.mean < min_score:
        return Verdict("rejected", f"{metric} {_fmt(candidate)} is below min_score {min_score}")
    if champion is None:
        return Verdict("promoted", f"no champion with a recorded {metric} yet; {_fmt(candidate)} >= min_score {min_score}")
    delta = candidate.mean - champion.mean
    if delta <= 0 or delta < min_delta:
        return Verdict("kept", f"{metric} {_fmt(candidate)} does not beat the champion's {_fmt(champion)} "
                               f"by min_delta {min_delta} (difference {delta:+.4f})")
    if candidate.n >= 2 and champion.n >= 2 and candidate.overlaps(champion):
        return Verdict("kept", f"{metric} {_fmt(candidate)} beats the champion's {_fmt(champion)} by "
                               f"{delta:+.4f}, but the confidence intervals overlap")
    return Verdict("promoted", f"{metric} {_fmt(candidate)} beats the champion's {_fmt(champion)} by "
                               f"{delta:+.4f} >= min_delta {min_delta}"
                   + (", intervals apart" if candidate.n >= 2 and champion.n >= 2 else ""))
