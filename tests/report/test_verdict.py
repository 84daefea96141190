"""Verdicts on crafted inputs: every outcome, both directions, TOST margins, Holm, and the false-win rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.report import verdict as v
from crosstrain.report.verdict import speed_verdicts, supporting_verdict, task_verdict

TF, PT = "tensorflow", "pytorch"
CFG = ReportConfig()
FORBIDDEN = ("no significant difference", "the same")


def predictions(correct: np.ndarray) -> list[dict]:
    """predictions.csv rows from a [seeds, examples] 0/1 matrix (label "x" is the truth)."""
    return [
        {"seed": str(s), "index": str(i), "actual": "x", "predicted": "x" if correct[s, i] else "y"}
        for s in range(correct.shape[0])
        for i in range(correct.shape[1])
    ]


def summaries(tf_runs: list[dict] | None = None, pt_runs: list[dict] | None = None) -> dict:
    return {TF: {"runs": tf_runs or []}, PT: {"runs": pt_runs or []}}


def accuracy(tf: np.ndarray, pt: np.ndarray, cfg: ReportConfig = CFG) -> dict:
    return task_verdict("iris", summaries(), {TF: predictions(tf), PT: predictions(pt)}, cfg)[0]


def bernoulli(seed: int, p: float, shape: tuple[int, int]) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(int)


# --- accuracy: the four outcomes --------------------------------------------------------------------


@pytest.mark.parametrize(("better", "worse"), [(TF, PT), (PT, TF)])
def test_a_clearly_more_accurate_framework_wins(better, worse):
    good, bad = bernoulli(1, 0.97, (3, 300)), bernoulli(2, 0.80, (3, 300))
    result = accuracy(good, bad) if better == TF else accuracy(bad, good)
    assert result["outcome"] == "difference" and result["winner"] == better
    assert result["text"].startswith(f"{better} is more accurate than {worse} by ")
    assert "accuracy points [" in result["text"]
    assert result["difference"]["low"] * result["difference"]["high"] > 0  # the interval excludes 0


def test_identical_predictions_on_many_examples_are_equivalent():
    # Given 3 seeds x 3000 examples where the frameworks disagree on a handful, balanced both ways.
    tf = bernoulli(3, 0.9, (3, 3000))
    pt = tf.copy()
    pt[:, :6] = 1 - pt[:, :6]
    result = accuracy(tf, pt)
    assert result["outcome"] == "equivalent" and result["winner"] is None
    assert "equivalent within ±1.0 points" in result["text"]


def test_equivalence_needs_the_interval_inside_the_margin():
    # Given the same data, a margin of 0.01 points cannot be shown (the interval is wider than that).
    tf = bernoulli(3, 0.9, (3, 3000))
    pt = tf.copy()
    pt[:, :6] = 1 - pt[:, :6]
    result = accuracy(tf, pt, ReportConfig(equivalence_margin=0.0001))
    assert result["outcome"] == "inconclusive"


def test_a_small_noisy_difference_is_inconclusive_and_says_what_would_settle_it():
    tf, pt = bernoulli(4, 0.9, (3, 30)), bernoulli(5, 0.87, (3, 30))
    result = accuracy(tf, pt)
    assert result["outcome"] == "inconclusive" and result["winner"] is None
    assert "would need about" in result["text"]
    assert "seeds" in result["text"] or "test examples" in result["text"]


def test_one_seed_is_inconclusive_however_large_the_gap():
    result = accuracy(np.ones((1, 30), int), np.zeros((1, 30), int))
    assert result["outcome"] == "inconclusive" and "at least 3 seeds" in result["text"]


def test_seed_variance_counts_a_gap_seen_in_one_seed_only_is_not_a_win():
    # Given one seed where pytorch fails badly and two where both agree exactly, over many examples:
    # pooled over examples alone, the gap would look certain; across seeds it is not.
    tf = np.ones((3, 400), int)
    pt = tf.copy()
    pt[0, :120] = 0
    result = accuracy(tf, pt)
    assert result["outcome"] != "difference"


def test_no_accuracy_text_says_no_significant_difference_or_the_same():
    cases = [
        (bernoulli(1, 0.97, (3, 300)), bernoulli(2, 0.8, (3, 300))),
        (bernoulli(4, 0.9, (3, 30)), bernoulli(5, 0.87, (3, 30))),
        (np.ones((3, 50), int), np.ones((3, 50), int)),
    ]
    for tf, pt in cases:
        text = accuracy(tf, pt)["text"].lower()
        assert not any(phrase in text for phrase in FORBIDDEN), text


def test_per_seed_accuracy_is_shown_with_its_drift():
    tf = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]])
    result = accuracy(tf, np.ones((3, 4), int))
    assert result["per_unit"][TF] == [0.25, 0.5, 0.75]
    assert "0.25, 0.5, 0.75 (rises with every seed)" in result["evidence"]


# --- speed and memory: ratios, directions, TOST, Holm -----------------------------------------------


def speed_json(values: dict[str, dict[str, list[float]]], task: str = "iris") -> dict:
    """speed.json with `values[metric][framework]` one per round, ABBA order."""
    rounds = len(next(iter(next(iter(values.values())).values())))
    order, measurements = [], []
    for r in range(rounds):
        fws = [TF, PT] if r % 2 == 0 else [PT, TF]
        order += fws
        for position, fw in enumerate(fws):
            row = {"round": r, "position": position, "framework": fw}
            row.update({metric: by_fw[fw][r] for metric, by_fw in values.items()})
            measurements.append(row)
    return {"task": task, "mode": "eager-fp32", "threads": 1, "steps": 20, "warmup_steps": 5, "seed": 0,
            "order": order, "measurements": measurements}


def jitter(base: float, seed: int, rounds: int = 4, rel: float = 0.02) -> list[float]:
    return list(base * np.exp(np.random.default_rng(seed).normal(0.0, rel, rounds)))


def by_question(verdicts: list[dict]) -> dict[str, dict]:
    return {x["question"]: x for x in verdicts}


@pytest.mark.parametrize("fast", [TF, PT])
def test_a_framework_twice_as_fast_wins_training_speed(fast):
    slow = PT if fast == TF else TF
    values = {names.STEP_TIME: {fast: jitter(10.0, 1), slow: jitter(20.0, 2)}}
    result = by_question(speed_verdicts("iris", speed_json(values), TF, PT, CFG))["training speed"]
    assert result["outcome"] == "difference" and result["winner"] == fast
    assert result["text"].startswith(f"{fast} trains ") and 1.9 < float(result["text"].split()[2][:-1]) < 2.1
    assert f"faster than {slow} (step time)" in result["text"]
    low, high = (float(x) for x in result["text"].split("[")[1].split("]")[0].split(", "))
    assert 1.8 < low < 2.0 and high < 2.2


@pytest.mark.parametrize("small", [TF, PT])
def test_lower_memory_and_latency_win(small):
    big = PT if small == TF else TF
    values = {
        names.LATENCY_P50: {small: jitter(1.0, 3), big: jitter(3.0, 4)},
        names.PEAK_RSS: {small: jitter(300.0, 5), big: jitter(600.0, 6)},
    }
    results = by_question(speed_verdicts("iris", speed_json(values), TF, PT, CFG))
    assert results["inference latency"]["winner"] == small
    assert results["inference latency"]["text"].startswith(f"{small} answers batch-1 requests 3")
    assert results["memory"]["winner"] == small
    assert results["memory"]["text"].startswith(f"{small} uses less memory: {big}'s peak RSS is 2")
    assert results["training speed"]["outcome"] == "not measured"


def test_higher_is_better_metrics_win_when_higher():
    # Given throughput-like figures: twice the examples/s is better, not worse.
    est = v.log_ratio(jitter(100.0, 7), jitter(200.0, 8))  # pytorch (b) twice tensorflow's examples/s
    text, winner = v._ratio_text("training speed", names.TRAIN_THROUGHPUT, est, (TF, PT), "difference", CFG)
    assert winner == PT and text.startswith("pytorch trains ") and 1.9 < float(text.split()[2][:-1]) < 2.1


def test_ratios_within_the_speed_margin_are_equivalent():
    values = {names.STEP_TIME: {TF: jitter(10.0, 9, 6, 0.003), PT: jitter(10.0, 10, 6, 0.003)}}
    result = by_question(speed_verdicts("iris", speed_json(values), TF, PT, CFG))["training speed"]
    assert result["outcome"] == "equivalent" and "within ±5%" in result["text"]
    # and: the same data is not equivalent within ±0.1%
    strict = speed_verdicts("iris", speed_json(values), TF, PT, ReportConfig(speed_equivalence=0.001))
    assert by_question(strict)["training speed"]["outcome"] == "inconclusive"


def test_noisy_rounds_are_inconclusive_and_name_the_rounds_needed():
    values = {names.STEP_TIME: {TF: jitter(10.0, 11, 4, 0.3), PT: jitter(11.0, 12, 4, 0.3)}}
    result = by_question(speed_verdicts("iris", speed_json(values), TF, PT, CFG))["training speed"]
    assert result["outcome"] == "inconclusive"
    assert "would need about" in result["text"] and "paired rounds" in result["text"]


def test_without_speed_json_nothing_is_decided_and_the_command_is_named():
    results = speed_verdicts("images", None, TF, PT, CFG)
    assert [r["question"] for r in results] == ["training speed", "inference latency", "memory"]
    for result in results:
        assert result["outcome"] == "not measured" and result["winner"] is None
        assert "run `crosstrain speed --task images`" in result["text"]


def _p_near(target_t: float, rounds: int = 4) -> list[float]:
    """Log-ratios whose one-sample t statistic is `target_t` (df = rounds - 1)."""
    signs = np.array([(-1) ** r for r in range(rounds)], dtype=float)
    sd = 0.05 * np.std(signs, ddof=1)
    return list(target_t * sd / math.sqrt(rounds) + 0.05 * signs)


def test_holm_turns_three_borderline_wins_into_none():
    # Given three questions each at raw p ~ 0.03 (t = 3.9, df 3): uncorrected all three would "win".
    logs = _p_near(3.9)
    base = [10.0] * 4
    values = {m: {TF: base, PT: list(10.0 * np.exp(logs))} for _, m in v.SPEED_QUESTIONS}
    results = speed_verdicts("iris", speed_json(values), TF, PT, CFG)
    assert all(0.02 < r["p"] < 0.05 for r in results)
    assert all(r["p_holm"] > 0.05 and r["outcome"] != "difference" for r in results)
    # and: the same evidence on one question alone is a win
    alone = speed_verdicts("iris", speed_json({names.STEP_TIME: values[names.STEP_TIME]}), TF, PT, CFG)
    assert alone[0]["outcome"] == "difference"


def test_false_wins_stay_within_five_percent_when_both_draw_from_one_distribution():
    # Given 3000 tasks of 4 ABBA rounds where both frameworks' figures come from one distribution
    # (a shared per-round machine state plus noise), the share of tasks with any "win" is <= 5%.
    rng = np.random.default_rng(2024)
    tasks, rounds = 3000, 4
    any_win = any_raw = 0
    for _ in range(tasks):
        machine = rng.normal(0.0, 0.1, rounds)
        values = {
            m: {fw: list(base * np.exp(machine + rng.normal(0.0, 0.05, rounds))) for fw in (TF, PT)}
            for m, base in ((names.STEP_TIME, 10.0), (names.LATENCY_P50, 1.0), (names.PEAK_RSS, 300.0))
        }
        results = speed_verdicts("iris", speed_json(values), TF, PT, CFG)
        any_win += any(r["winner"] for r in results)
        any_raw += any(r["p"] < 0.05 for r in results)
    assert any_win / tasks <= 0.05
    assert any_raw / tasks > 0.10  # uncorrected, three questions would exceed it


def test_a_round_measuring_a_framework_twice_is_refused():
    data = speed_json({names.STEP_TIME: {TF: [1.0, 1.0], PT: [1.0, 1.0]}})
    data["measurements"][1]["framework"] = TF
    with pytest.raises(Exception, match="twice"):
        speed_verdicts("iris", data, TF, PT, CFG)


# --- supporting metrics, the task, fairness -----------------------------------------------------------


def _runs(metric: str, values: list[float]) -> list[dict]:
    return [{"seed": s, metric: x} for s, x in enumerate(values)]


@pytest.mark.parametrize(
    ("metric", "tf", "pt", "winner"),
    [
        (names.TEST_MACRO_F1, [0.90, 0.91, 0.92], [0.80, 0.815, 0.83], TF),  # higher is better
        (names.TEST_LOG_LOSS, [0.30, 0.31, 0.33], [0.10, 0.12, 0.11], PT),  # lower is better
    ],
)
def test_supporting_verdicts_follow_each_metrics_direction(metric, tf, pt, winner):
    result = supporting_verdict(metric, TF, PT, summaries(_runs(metric, tf), _runs(metric, pt)), CFG)
    assert result["outcome"] == "difference" and result["winner"] == winner and not result["headline"]


def test_an_unfair_comparison_gets_no_verdict():
    tf = np.ones((3, 10), int)
    preds = {TF: predictions(tf), PT: predictions(tf)}
    assert task_verdict("iris", summaries(), preds, CFG, fairness={"fair": False}) == []
    assert task_verdict("iris", summaries(), preds, CFG, fairness={"fair": True})[0]["question"] == "accuracy"


def test_a_task_has_one_headline_verdict_per_question():
    tf = bernoulli(1, 0.9, (3, 40))
    verdicts = task_verdict("iris", summaries(), {TF: predictions(tf), PT: predictions(tf)}, CFG)
    assert [x["question"] for x in verdicts if x["headline"]] == list(v.QUESTIONS)


def test_an_equivalence_headline_shows_the_interval_the_two_one_sided_tests_used():
    from crosstrain.evaluation import stats

    # Given a difference whose 95% interval reaches past ±1 point but whose 90% interval does not
    est = stats.Crossed(mean=-0.002, se=0.0044, df=40.0, n=3)
    low95, high95 = est.interval(0.95)
    low90, high90 = est.interval(0.90)
    assert low95 < -0.01 < low90 and high90 < 0.01
    # When the report words it
    outcome, text, winner, _ = v.accuracy_sentence(est, TF, PT, CFG)
    # Then it is equivalent, and the interval it shows is the 90% one, inside the margin
    assert outcome == "equivalent" and winner is None
    assert text.endswith(f"90% CI [{low90 * 100:.1f}, {high90 * 100:.1f}])"), text
