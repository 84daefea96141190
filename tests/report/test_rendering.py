"""The HTML and Markdown on a crafted report: headline sentences, fairness audit, MFU as a percentage."""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.report import html, markdown
from crosstrain.report.verdict import task_verdict

TF, PT = "tensorflow", "pytorch"


def _summary(acc: list[float], mfu: float) -> dict:
    runs = [{"seed": s, names.TEST_ACCURACY: a, names.MFU: mfu} for s, a in enumerate(acc)]
    return {
        "mode": "eager-fp32", "threads": 1, "seeds": [0, 1, 2], "run_ids": [None] * 3, "runs": runs,
        "metrics": {
            names.TEST_ACCURACY: {"mean": float(np.mean(acc)), "low": 0.8, "high": 0.99, "n": 3},
            names.MFU: {"mean": mfu, "low": mfu, "high": mfu, "n": 3},
        },
        "curves": [], "modes": None, "onnx": None,
    }


def _predictions(correct: np.ndarray) -> list[dict]:
    return [{"seed": s, "index": i, "actual": "x", "predicted": "x" if correct[s, i] else "y"}
            for s in range(correct.shape[0]) for i in range(correct.shape[1])]


def _speed() -> dict:
    rows = []
    for r in range(4):
        for fw, step in ((TF, 20.0), (PT, 10.0)):
            rows.append({"round": r, "framework": fw, names.STEP_TIME: step * (1 + 0.01 * (-1) ** r),
                         names.LATENCY_P50: 1.0, names.PEAK_RSS: 300.0 + r})
    return {"task": "iris", "mode": "eager-fp32", "threads": 1, "order": [TF, PT, PT, TF] * 2,
            "measurements": rows}


FAIRNESS_ROWS = [
    {"field": "optimizer.epsilon", TF: "1e-07", PT: "1e-07", "same": True, "exception": None},
    {"field": "normalization.running_variance", TF: "biased", PT: "unbiased", "same": False,
     "exception": "named exception: BatchNorm running variance"},
]


def report(fair: bool = True) -> dict:
    summaries = {TF: _summary([0.9, 0.93, 0.97], 0.0123), PT: _summary([0.9, 0.92, 0.91], 0.05)}
    rng = np.random.default_rng(0)
    correct = (rng.random((3, 40)) < 0.9).astype(int)
    fairness = {"fair": fair, "seeds": [0, 1, 2], "rows": FAIRNESS_ROWS,
                "differences": [] if fair else ["unfair comparison: iris: optimizer.epsilon differs: "
                                                "tensorflow 1e-07, pytorch 1e-06"]}
    preds = {TF: _predictions(correct), PT: _predictions(correct)}
    verdict = task_verdict("iris", summaries, preds, ReportConfig(), speed=_speed()) if fair else []
    return {
        "generated_at": "2026-01-01T00:00:00Z", "parent_run_id": None, "confidence": 0.95,
        "bootstrap_samples": 1000, "seeds": [0, 1, 2], "frameworks": [TF, PT],
        "environment": {"matmul_peak": [], "versions": {}},
        "results": {"iris": {"frameworks": summaries, "verdict": verdict, "fairness": fairness,
                             "registry": None}},
    }


@pytest.mark.parametrize("render", [lambda r: html.render(r, {}), markdown.render], ids=["html", "markdown"])
def test_headline_has_one_sentence_per_question_with_its_interval(render):
    text = render(report())
    assert "pytorch trains 2.0" in text and "faster than tensorflow (step time)" in text
    assert "accuracy equivalent within ±1.0 points" in text  # identical predictions, every seed
    assert "inference latency" in text and "memory" in text
    assert "Student-t" in text and "Holm" in text and "TOST" in text  # the method note says what was done
    assert "no significant difference" not in text.lower()


@pytest.mark.parametrize("render", [lambda r: html.render(r, {}), markdown.render], ids=["html", "markdown"])
def test_mfu_is_a_percentage_and_per_seed_values_show_their_drift(render):
    text = render(report())
    assert "1.23%" in text and "5%" in text
    assert "0.9, 0.93, 0.97 (rises with every seed)" in text


@pytest.mark.parametrize("render", [lambda r: html.render(r, {}), markdown.render], ids=["html", "markdown"])
def test_fairness_audit_lists_every_field_and_its_exception(render):
    text = render(report())
    assert "Fairness audit" in text and "optimizer.epsilon" in text
    assert "named exception: BatchNorm running variance" in text


@pytest.mark.parametrize("render", [lambda r: html.render(r, {}), markdown.render], ids=["html", "markdown"])
def test_an_unfair_task_shows_its_differences_first_and_no_verdict(render):
    text = render(report(fair=False))
    section = text.split("iris", 1)[1]
    assert "Unfair comparison: no verdict is given." in text
    assert "optimizer.epsilon differs: tensorflow 1e-07, pytorch 1e-06" in section
    assert section.index("optimizer.epsilon differs") < section.index("Verdict")
    assert "faster than" not in text and "more accurate" not in text
