"""The champion gate: which framework is the candidate, whether it may take the `champion` alias, and why.

Two decisions, each with its reason (which `register` records as tags on the model version):

1. Between frameworks (`choose`): the one the accuracy verdict names better; when that verdict is
   "equivalent" or "inconclusive", the declared tie-breaker `register.tie_breaker` decides and the
   reason says so (an exact tie is called one).
2. Against the previous champion (`decide`): like TFX's model "blessing", the candidate replaces it
   only when a one-sided Welch t-test shows its mean ahead by more than `register.min_delta` at the
   report's confidence. Overlapping intervals are no test. With one seed on a side, the other side's
   seed spread stands in for it; with one seed on both, nothing can be tested and the means decide,
   which the reason states.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

Decision = Literal["promoted", "kept", "rejected"]


@dataclass(frozen=True)
class Verdict:
    """What the gate decided about the candidate, and why."""

    decision: Decision
    reason: str

    @property
    def promote(self) -> bool:
        """True when the candidate becomes champion."""
        return self.decision == "promoted"


@dataclass(frozen=True)
class Scores:
    """A metric over seeds: mean, sample standard deviation (NaN when unknown) and seed count."""

    mean: float
    sd: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Scores:
        """The scores of per-seed values (sd NaN for a single seed)."""
        arr = np.asarray(values, dtype=float)
        return cls(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else math.nan, int(arr.size))

    @property
    def spread_known(self) -> bool:
        """Two seeds or more, with a finite sd: a Welch test can use them."""
        return self.n >= 2 and math.isfinite(self.sd)

    def __str__(self) -> str:
        if not self.spread_known:
            return f"{self.mean:.4f} ({self.n} seed{'s' if self.n != 1 else ''}, no spread known)"
        return f"{self.mean:.4f} ± {self.sd:.4f} sd ({self.n} seeds)"


@dataclass(frozen=True)
class Option:
    """One framework as the tie-breaker sees it."""

    framework: str
    log_loss: float = math.inf  # mean test log-loss over seeds
    macro_f1: float = -math.inf  # mean test macro-F1 over seeds


def tie_break(options: Sequence[Option], tie_breaker: str) -> tuple[str, str]:
    """(framework, reason) by `register.tie_breaker`; `options` in `frameworks` order, which ends a tie."""
    first = options[0].framework
    if tie_breaker == "framework_order":
        return first, f"tie-breaker register.tie_breaker=framework_order picked {first}, listed first"
    key = {"test_log_loss": lambda o: o.log_loss, "test_macro_f1": lambda o: -o.macro_f1}[tie_breaker]
    shown = ", ".join(f"{o.framework} {-key(o) if tie_breaker == 'test_macro_f1' else key(o):.4g}"
                      for o in options)
    best = min(key(o) for o in options)
    if not math.isfinite(best):
        return first, f"tie-breaker {tie_breaker} not recorded ({shown}): {first}, listed first, picked"
    leaders = [o.framework for o in options if key(o) == best]
    if len(leaders) > 1:
        return leaders[0], f"tie-breaker {tie_breaker} tied too ({shown}): {leaders[0]}, listed first, picked"
    better = "lower" if tie_breaker == "test_log_loss" else "higher"
    return leaders[0], (f"tie-breaker register.tie_breaker={tie_breaker} picked {leaders[0]} "
                        f"({better}: {shown})")


def choose(outcome: str, winner: str | None, accuracy_text: str, options: Sequence[Option],
           means: dict[str, float], tie_breaker: str) -> tuple[str, str]:
    """(candidate framework, reason) following the accuracy verdict: its winner, else the tie-breaker."""
    if len(options) == 1:
        return options[0].framework, f"only {options[0].framework} was evaluated"
    if outcome == "difference" and winner is not None:
        return winner, accuracy_text
    framework, why = tie_break(options, tie_breaker)
    values = list(means.values())
    tie = "an exact tie in the means; " if len(set(values)) == 1 else ""
    return framework, f"{accuracy_text}: {tie}{why}"


def _welch(candidate: Scores, champion: Scores) -> tuple[float, float, str]:
    """(standard error, df, note) of the difference of means; a side without spread borrows the other's."""
    note = ""
    df: float
    sd_c, sd_p = candidate.sd, champion.sd
    if not candidate.spread_known:
        sd_c, note = sd_p, f"; the candidate's {candidate.n} seed borrows the champion's seed spread"
        df = champion.n - 1
    elif not champion.spread_known:
        sd_p, note = sd_c, f"; the champion's {champion.n} seed borrows the candidate's seed spread"
        df = candidate.n - 1
    vc, vp = sd_c**2 / candidate.n, sd_p**2 / champion.n
    se = math.sqrt(vc + vp)
    if candidate.spread_known and champion.spread_known:
        denom = vc**2 / (candidate.n - 1) + vp**2 / (champion.n - 1)
        df = (vc + vp) ** 2 / denom if denom > 0 else math.inf
    return se, float(df), note


def decide(metric: str, candidate: Scores, champion: Scores | None, min_score: float, min_delta: float,
           confidence: float = 0.95) -> Verdict:
    """Promote, keep the current champion, or reject the candidate outright (below `min_score`)."""
    if candidate.mean < min_score:
        return Verdict("rejected", f"{metric} {candidate} is below min_score {min_score}")
    if champion is None:
        return Verdict("promoted",
                       f"no champion with a recorded {metric} yet; {candidate} >= min_score {min_score}")
    delta = candidate.mean - champion.mean
    versus = f"{metric} {candidate} vs the champion's {champion}: difference {delta:+.4f}"
    if delta <= min_delta:
        tie = "an exact tie, " if delta == 0 else ""
        return Verdict("kept", f"{versus}, {tie}not above min_delta {min_delta}")
    if not candidate.spread_known and not champion.spread_known:
        return Verdict("promoted", f"{versus} > min_delta {min_delta}; one seed on each side leaves no "
                                   "variance to test with, so the means alone decide")
    se, df, note = _welch(candidate, champion)
    alpha = 1.0 - confidence
    p = 0.0 if se == 0 else float(special.stdtr(df, -(delta - min_delta) / se))
    test = f"one-sided Welch t-test of difference > min_delta {min_delta}: p {p:.2g}{note}"
    if p < alpha:
        return Verdict("promoted", f"{versus}; {test} < {alpha:.2g}")
    return Verdict("kept", f"{versus}; not shown beyond noise ({test} >= {alpha:.2g})")
