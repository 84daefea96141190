"""Who is better at what, and how sure we are: one verdict per question, not per derived metric.

Questions and their evidence:

- accuracy: 0/1 correctness per seed and test example for both frameworks (predictions.csv),
  paired by seed (seed s gives both the same initial weights and batch order) and by example;
  `stats.crossed_difference` counts seed-to-seed and example-to-example variance.
- training speed (step time; train time, examples/s, GFLOP/s and MFU are the same measurement),
  inference latency (batch-1 p50) and memory (peak RSS): the paired rounds of speed.json, as a
  ratio with its t-interval on the log scale, Holm-corrected across the three.

Each ends in one of: a difference ("pytorch trains 2.7x [2.3, 3.1] faster"), "equivalent within
±margin" (two one-sided tests), "inconclusive" with about how much more data would settle it, or
"not measured". Macro-F1 and log-loss get a supporting seeds-only paired verdict in the detail.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.errors import CrosstrainError, MissingInputError
from crosstrain.evaluation import stats
from crosstrain.report import wording as w

# +1: higher is better, -1: lower is better.
DIRECTION = {
    names.TEST_ACCURACY: +1,
    names.TEST_MACRO_F1: +1,
    names.TEST_LOG_LOSS: -1,
    names.STEP_TIME: -1,
    names.TRAIN_THROUGHPUT: +1,
    names.LATENCY_P50: -1,
    names.THROUGHPUT: +1,
    names.PEAK_RSS: -1,
}
ACCURACY = "accuracy"
# The speed and memory questions: (question, the one metric that decides it).
SPEED_QUESTIONS = (
    ("training speed", names.STEP_TIME),
    ("inference latency", names.LATENCY_P50),
    ("memory", names.PEAK_RSS),
)
SUPPORTING = (names.TEST_MACRO_F1, names.TEST_LOG_LOSS)
QUESTIONS = (ACCURACY, *(q for q, _ in SPEED_QUESTIONS))
RATIO_NAMES = {names.STEP_TIME: "step-time ratio", names.LATENCY_P50: "p50-latency ratio",
               names.PEAK_RSS: "peak-RSS ratio"}


def _verdict(question: str, metric: str, outcome: str, winner: str | None, text: str, evidence: str,
             **extra: Any) -> dict:
    return {"question": question, "metric": metric, "outcome": outcome, "winner": winner, "text": text,
            "evidence": evidence, "headline": question in QUESTIONS, **extra}


# --- accuracy -------------------------------------------------------------------------------------


def correctness(predictions: list[dict[str, str]]) -> tuple[list[int], list[int], list[str], np.ndarray]:
    """(seeds, test rows, true labels, [seeds, rows] 0/1 correctness) from predictions.csv rows."""
    cells: dict[tuple[int, int], float] = {}
    actual: dict[int, str] = {}
    for row in predictions:
        seed, index = int(row["seed"]), int(row["index"])
        actual[index] = row["actual"]
        cells[(seed, index)] = float(row["actual"] == row["predicted"])
    seeds, rows = sorted({s for s, _ in cells}), sorted(actual)
    if len(cells) != len(seeds) * len(rows):
        raise MissingInputError("predictions.csv lacks some (seed, index) rows: re-run `crosstrain evaluate`")
    matrix = np.array([[cells[(s, i)] for i in rows] for s in seeds])
    return seeds, rows, [actual[i] for i in rows], matrix


def _aligned(task: str, a: str, b: str, preds: dict[str, list[dict[str, str]]]):
    seeds_a, rows_a, actual_a, ca = correctness(preds[a])
    seeds_b, rows_b, actual_b, cb = correctness(preds[b])
    if rows_a != rows_b or actual_a != actual_b:
        raise MissingInputError(
            f"{task}: {a} and {b} were evaluated on different test rows; re-run `crosstrain evaluate` "
            f"for both on the same prepared data (`dvc repro` does this)"
        )
    if seeds_a != seeds_b:
        raise MissingInputError(
            f"{task}: {a} has seeds {seeds_a} and {b} {seeds_b}: the paired comparison needs the same seeds"
        )
    return seeds_a, ca, cb


def accuracy_sentence(est: stats.Crossed, a: str, b: str,
                      cfg: ReportConfig) -> tuple[str, str, str | None, dict]:
    """(outcome, headline sentence, winner, the difference a - b as mean/low/high/n) for one estimate.

    Shared with the register gate, so the champion follows the report's own accuracy verdict.
    """
    alpha, m = 1.0 - cfg.confidence, cfg.equivalence_margin
    low, high = est.interval(cfg.confidence)
    diff = {"mean": est.mean, "low": low, "high": high, "n": est.n}
    shown = f"{a} − {b} {w.points(est.mean)} points [{w.points(low)}, {w.points(high)}]"
    if not est.known:
        return ("inconclusive", f"accuracy inconclusive: {est.n} seed(s) give no seed-to-seed variance "
                f"({shown.split(' [')[0]}); would need at least 3 seeds", None, diff)
    outcome = stats.outcome(est.p_zero(), est.p_equivalent(-m, m), alpha)
    if outcome == "difference":
        winner, loser = (a, b) if est.mean > 0 else (b, a)
        lo, hi = sorted((abs(low), abs(high)))
        return (outcome, f"{winner} is more accurate than {loser} by {w.points(abs(est.mean))} accuracy "
                f"points [{w.points(lo)}, {w.points(hi)}]", winner, diff)
    if outcome == "equivalent":
        # Two one-sided tests at level alpha: the (1 - 2 alpha) interval lies inside ±m. That interval
        # is shown, not the (1 - alpha) one, which may reach past the margin.
        level = 1.0 - 2.0 * alpha
        lo, hi = est.interval(level)
        tost = f"{a} − {b} {w.points(est.mean)} points, {level:.0%} CI [{w.points(lo)}, {w.points(hi)}]"
        return outcome, f"accuracy equivalent within ±{w.points(m)} points ({tost})", None, diff
    seeds, examples = stats.crossed_needed(est, stats.target_half_width(est.mean, -m, m), cfg.confidence)
    options = [f"about {w.needed(seeds, 'seeds')} (at {est.examples} test examples)"] if seeds else []
    options += [f"about {w.needed(examples, 'test examples')} (at {est.n} seeds)"] if examples else []
    need = " or ".join(options) or "more seeds and more test examples together"
    return "inconclusive", f"accuracy inconclusive ({shown}): would need {need} to settle it", None, diff


def accuracy_verdict(task: str, a: str, b: str, preds: dict[str, list[dict[str, str]]],
                     cfg: ReportConfig) -> dict:
    """Accuracy of `a` vs `b` over seeds and test examples, paired on both."""
    seeds, ca, cb = _aligned(task, a, b, preds)
    est = stats.crossed_difference(ca, cb)
    outcome, text, winner, diff = accuracy_sentence(est, a, b, cfg)
    per_seed = {a: ca.mean(axis=1).tolist(), b: cb.mean(axis=1).tolist()}
    evidence = (
        f"{cfg.confidence:.0%} t-interval of {a} − {b} over {est.n} seeds × {est.examples} test examples "
        f"(seed and example variance counted, df {w.number(est.df) if math.isfinite(est.df) else '∞'}); "
        f"p {w.p_value(est.p_zero())}; per-seed accuracy: "
        + "; ".join(f"{fw} {w.series(v, 'seed')}" for fw, v in per_seed.items())
    )
    return _verdict(ACCURACY, names.TEST_ACCURACY, outcome, winner, text, evidence, difference=diff,
                    pair=[a, b], seeds=seeds, per_unit=per_seed, unit="seed", p=est.p_zero(),
                    margin=cfg.equivalence_margin)


def supporting_verdict(metric: str, a: str, b: str, summaries: dict[str, dict],
                       cfg: ReportConfig) -> dict | None:
    """A seeds-only paired t verdict on `metric` (macro-F1, log-loss): detail, not a headline."""
    values = {fw: {r.get("seed"): r.get(metric) for r in summaries[fw]["runs"]} for fw in (a, b)}
    seeds = sorted(set(values[a]) & set(values[b]), key=str)
    if not seeds or any(not isinstance(values[fw][s], int | float) for fw in (a, b) for s in seeds):
        return None
    diffs = [values[a][s] - values[b][s] for s in seeds]
    est = stats.paired_t(diffs)
    low, high = est.interval(cfg.confidence)
    # Log-loss has no declared equivalence margin, so it can show a difference but never equivalence.
    m = cfg.equivalence_margin if metric == names.TEST_MACRO_F1 else 0.0
    outcome = stats.outcome(est.p_zero(), est.p_equivalent(-m, m) if m else 1.0, 1.0 - cfg.confidence)
    winner = None
    if outcome == "difference":
        winner = a if DIRECTION[metric] * est.mean > 0 else b
    text = {"difference": f"{winner} better", "equivalent": f"equivalent within ±{w.number(m)}",
            "inconclusive": "inconclusive"}[outcome]
    evidence = (f"{a} − {b} {w.number(est.mean)} [{w.number(low)}, {w.number(high)}], paired by seed over "
                f"{est.n} seeds (supporting: test examples not resampled, not Holm-corrected); per seed: "
                + "; ".join(f"{fw} {w.series([values[fw][s] for s in seeds], 'seed')}" for fw in (a, b)))
    return _verdict(w.label(metric), metric, outcome, winner, text, evidence)


# --- speed and memory -----------------------------------------------------------------------------


def speed_pairs(speed: dict, metric: str, a: str, b: str) -> tuple[list[float], list[float]]:
    """`metric` of a and b per round, paired by round (each round has exactly one measurement of each)."""
    by_round: dict[int, dict[str, float]] = defaultdict(dict)
    for m in speed.get("measurements", []):
        fw, round_ = m.get("framework"), m.get("round")
        if fw in by_round[round_]:
            raise CrosstrainError(f"speed.json of {speed.get('task')}: round {round_} measures {fw} twice")
        by_round[round_][fw] = m.get(metric)
    rounds = sorted(r for r, fws in by_round.items() if a in fws and b in fws)
    values = [(by_round[r][a], by_round[r][b]) for r in rounds]
    if any(not (isinstance(x, int | float) and x > 0 and math.isfinite(x)) for pair in values for x in pair):
        raise CrosstrainError(
            f"speed.json of {speed.get('task')}: {metric} must be a positive number in every round")
    return [x for x, _ in values], [y for _, y in values]


def log_ratio(a_values: list[float], b_values: list[float]) -> stats.Estimate:
    """Mean of log(b / a) over paired rounds: the log of b's value as a multiple of a's."""
    return stats.paired_t(np.log(np.asarray(b_values)) - np.log(np.asarray(a_values)))


def _ratio_text(question: str, metric: str, est: stats.Estimate, pair: tuple[str, str], outcome: str,
                cfg: ReportConfig) -> tuple[str, str | None]:
    """(headline sentence, winner) of a ratio verdict between frameworks `pair` = (a, b)."""
    a, b = pair
    low, high = est.interval(cfg.confidence)
    # How many times better `a` is: > 0 when a is better on this metric, whatever its direction.
    sign = -DIRECTION[metric]
    good = [sign * est.mean, *sorted((sign * low, sign * high))]
    leader, other = (a, b) if good[0] >= 0 else (b, a)
    if leader == b:
        good = [-good[0], -good[2], -good[1]]
    factor = w.ratio(math.exp(good[0]), math.exp(good[1]), math.exp(good[2]))
    phrase = {"training speed": f"{leader} trains {factor} faster than {other} (step time)",
              "inference latency":
                  f"{leader} answers batch-1 requests {factor} faster than {other} (p50 latency)",
              "memory": f"{leader} uses less memory: {other}'s peak RSS is {factor} {leader}'s"}[question]
    if outcome == "difference":
        return phrase, leader
    plain = w.ratio(math.exp(est.mean), math.exp(low), math.exp(high))
    if outcome == "equivalent":
        level = 1.0 - 2.0 * (1.0 - cfg.confidence)  # the two one-sided tests' interval (see accuracy)
        lo, hi = est.interval(level)
        tost = w.ratio(math.exp(est.mean), math.exp(lo), math.exp(hi))
        return (f"{question} equivalent within ±{cfg.speed_equivalence:.0%}: "
                f"{RATIO_NAMES[metric]} {b}/{a} {tost} ({level:.0%} CI)", None)
    need = stats.units_needed(est.se * math.sqrt(est.n),
                              stats.target_half_width(est.mean, math.log1p(-cfg.speed_equivalence),
                                                      math.log1p(cfg.speed_equivalence)), cfg.confidence)
    return (f"{question} inconclusive: {RATIO_NAMES[metric]} {b}/{a} {plain}; would need about "
            f"{w.needed(need, 'paired rounds')} to settle it", None)


def speed_verdicts(task: str, speed: dict | None, a: str, b: str, cfg: ReportConfig) -> list[dict]:
    """Training speed, inference latency and memory from speed.json, Holm-corrected across the three."""
    command = f"crosstrain speed --task {task}"
    if speed is None:
        return [_verdict(q, m, "not measured", None, f"{q}: not measured: run `{command}`",
                         "the training runs' own timings are no paired measurement and decide nothing")
                for q, m in SPEED_QUESTIONS]
    measured = []
    for question, metric in SPEED_QUESTIONS:
        if not any(metric in m for m in speed.get("measurements", [])):
            continue
        xa, xb = speed_pairs(speed, metric, a, b)
        measured.append((question, metric, xa, xb, log_ratio(xa, xb)))
    lo, hi = math.log1p(-cfg.speed_equivalence), math.log1p(cfg.speed_equivalence)
    p_diff = stats.holm([e.p_zero() for *_, e in measured])
    p_equal = stats.holm([e.p_equivalent(lo, hi) for *_, e in measured])
    verdicts = {}
    for (question, metric, xa, xb, est), pd, pe in zip(measured, p_diff, p_equal, strict=True):
        outcome = stats.outcome(pd, pe, 1.0 - cfg.confidence)
        text, winner = _ratio_text(question, metric, est, (a, b), outcome, cfg)
        low, high = est.interval(cfg.confidence)
        per_round = {a: xa, b: xb}
        evidence = (
            f"{est.n} paired rounds ({speed.get('mode')}, {speed.get('threads')} thread(s), order "
            f"{' '.join(speed.get('order', [])[:8])}{' …' if len(speed.get('order', [])) > 8 else ''}); "
            f"{cfg.confidence:.0%} t-interval of log({b}/{a}); Holm-adjusted p {w.p_value(pd)}; per round "
            + "; ".join(f"{fw} {w.series(v, 'round')}" for fw, v in per_round.items())
        )
        ratio = {"mean": math.exp(est.mean), "low": math.exp(low), "high": math.exp(high), "n": est.n}
        verdicts[question] = _verdict(question, metric, outcome, winner, text, evidence, ratio=ratio,
                                      pair=[a, b], per_unit=per_round, unit="round", p=est.p_zero(),
                                      p_holm=pd, margin=cfg.speed_equivalence)
    return [verdicts.get(q) or _verdict(q, m, "not measured", None,
                                        f"{q}: not measured: speed.json has no {m}", "")
            for q, m in SPEED_QUESTIONS]


# --- a task ---------------------------------------------------------------------------------------


def task_verdict(
    task: str,
    summaries: dict[str, dict],
    preds: dict[str, list[dict[str, str]]],
    cfg: ReportConfig,
    speed: dict | None = None,
    fairness: dict | None = None,
) -> list[dict]:
    """Every question's verdict for a task: accuracy, training speed, inference latency, memory, then the
    supporting macro-F1 and log-loss verdicts. Empty with one framework, or when `fairness` says unfair.

    Args:
        task: The task.
        summaries: Framework -> its summarize_framework() section (the first two are compared, in order).
        preds: Framework -> its predictions.csv rows (seed, index, actual, predicted).
        cfg: Confidence, equivalence margins.
        speed: metrics/<task>/speed.json, or None when `crosstrain speed` has not run.
        fairness: result["fairness"], or None; an unfair comparison gets no verdict at all.
    """
    if len(summaries) < 2 or (fairness is not None and not fairness.get("fair", True)):
        return []
    a, b = list(summaries)[:2]
    verdicts = [accuracy_verdict(task, a, b, preds, cfg)]
    verdicts += speed_verdicts(task, speed, a, b, cfg)
    verdicts += [v for m in SUPPORTING if (v := supporting_verdict(m, a, b, summaries, cfg))]
    return verdicts
