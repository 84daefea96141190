"""Who wins on what, and how sure we are.

Accuracy is decided by a paired bootstrap over test examples (each example's correctness averaged
over seeds, the same rows in both frameworks), which uses every prediction rather than three
numbers. Every other metric is decided by its seeds' intervals: the leader wins only when its
interval does not overlap the runner-up's; otherwise the report says "no significant difference".
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.errors import MissingInputError
from crosstrain.evaluation.stats import Interval, paired_diff_ci
from crosstrain.report import wording
from crosstrain.report.summarize import interval_dict

NO_DIFFERENCE = "no significant difference"

# +1: higher is better, -1: lower is better. Metrics not listed (parameter count, FLOPs per
# example, epochs) describe the model rather than rank the frameworks, so get no verdict.
DIRECTION = {
    names.TEST_ACCURACY: +1,
    names.TEST_MACRO_F1: +1,
    names.TEST_LOG_LOSS: -1,
    names.TRAIN_TIME: -1,
    names.COMPILE_TIME: -1,
    names.TRAIN_THROUGHPUT: +1,
    names.STEP_TIME: -1,
    names.LATENCY_P50: -1,
    names.LATENCY_P95: -1,
    names.LATENCY_P99: -1,
    names.THROUGHPUT: +1,
    names.PEAK_RSS: -1,
    names.TRAIN_RSS: -1,
    names.MODEL_SIZE: -1,
    names.ACHIEVED_FLOPS: +1,
    names.MFU: +1,
}


def per_example_correctness(predictions: list[dict[str, str]]) -> tuple[list[int], list[str], np.ndarray]:
    """Test rows (sorted by index), their true labels, and the fraction of seeds that got each right."""
    correct: dict[int, list[float]] = defaultdict(list)
    actual: dict[int, str] = {}
    for row in predictions:
        index = int(row["index"])
        actual[index] = row["actual"]
        correct[index].append(float(row["actual"] == row["predicted"]))
    rows = sorted(correct)
    return rows, [actual[i] for i in rows], np.array([np.mean(correct[i]) for i in rows])


def accuracy_difference(
    task: str, a: str, b: str, preds: dict[str, list[dict[str, str]]], cfg: ReportConfig
) -> Interval:
    """Paired bootstrap interval of accuracy(a) - accuracy(b) over the test examples."""
    rows_a, actual_a, score_a = per_example_correctness(preds[a])
    rows_b, actual_b, score_b = per_example_correctness(preds[b])
    if rows_a != rows_b or actual_a != actual_b:
        raise MissingInputError(
            f"{task}: {a} and {b} were evaluated on different test rows; re-run `crosstrain evaluate` "
            f"for both on the same prepared data (`dvc repro` does this)"
        )
    return paired_diff_ci(score_a, score_b, cfg.confidence, cfg.bootstrap_samples)


def _evidence(fw: str, ci: dict[str, float]) -> str:
    return f"{fw} {wording.interval(ci)}"


def metric_verdict(metric: str, by_framework: dict[str, dict[str, float]]) -> dict:
    """The leader on one metric, and whether its interval clears the runner-up's."""
    sign = DIRECTION[metric]
    ranked = sorted(by_framework, key=lambda fw: -sign * by_framework[fw]["mean"])
    best, second = ranked[0], ranked[1]
    a, b = by_framework[best], by_framework[second]
    evidence = "; ".join(_evidence(fw, by_framework[fw]) for fw in ranked)
    if min(a["n"], b["n"]) < 2:
        return {
            "metric": metric,
            "winner": None,
            "leader": best,
            "significant": False,
            "evidence": evidence,
            "text": f"{best} ahead, but one seed gives no interval to test it",
        }
    separate = not Interval(**a).overlaps(Interval(**b))
    text = f"{best} wins" if separate else NO_DIFFERENCE
    return {
        "metric": metric,
        "winner": best if separate else None,
        "leader": best,
        "significant": separate,
        "evidence": evidence,
        "text": text,
    }


def accuracy_verdict(
    task: str,
    by_framework: dict[str, dict[str, float]],
    preds: dict[str, list[dict[str, str]]],
    cfg: ReportConfig,
) -> dict:
    """Accuracy leader vs runner-up, decided by the paired bootstrap of their difference."""
    ranked = sorted(by_framework, key=lambda fw: -by_framework[fw]["mean"])
    best, second = ranked[0], ranked[1]
    diff = accuracy_difference(task, best, second, preds, cfg)
    evidence = (
        f"{'; '.join(_evidence(fw, by_framework[fw]) for fw in ranked)}; paired difference "
        f"{best} - {second} over {diff.n} test examples: {wording.interval(interval_dict(diff))}"
    )
    significant = diff.excludes_zero
    return {
        "metric": names.TEST_ACCURACY,
        "winner": best if significant else None,
        "leader": best,
        "significant": significant,
        "evidence": evidence,
        "difference": interval_dict(diff),
        "pair": [best, second],
        "text": f"{best} wins" if significant else NO_DIFFERENCE,
    }


def task_verdict(
    task: str, summaries: dict[str, dict], preds: dict[str, list[dict[str, str]]], cfg: ReportConfig
) -> list[dict]:
    """One verdict per rankable metric of a task that every framework measured."""
    if len(summaries) < 2:
        return []
    shared = set.intersection(*(set(s["metrics"]) for s in summaries.values()))
    verdicts = []
    for metric in DIRECTION:
        if metric not in shared:
            continue
        by_framework = {fw: s["metrics"][metric] for fw, s in summaries.items()}
        if metric == names.TEST_ACCURACY:
            verdicts.append(accuracy_verdict(task, by_framework, preds, cfg))
        else:
            verdicts.append(metric_verdict(metric, by_framework))
    return verdicts
