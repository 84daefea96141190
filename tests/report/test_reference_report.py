"""The classical reference in the report and in `crosstrain compare`: its row, its verdict line in each
direction, and a report that still renders without it.

.venv/bin/python -m pytest tests/report/test_reference_report.py -q
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from report_artefacts import FRAMEWORKS, SEEDS, make_project

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import MlflowConfig, ReportConfig, Settings
from crosstrain.evaluation.reference import reference as fit_reference
from crosstrain.layout import Layout
from crosstrain.report import reference as ref
from crosstrain.tracking import Tracker

TF, PT = FRAMEWORKS
EXAMPLES = 300
CFG = ReportConfig()


def _predictions(correct: np.ndarray) -> list[dict[str, str]]:
    """predictions.csv rows of a model whose [seeds, examples] correctness is `correct` (every row is "a")."""
    return [{"seed": str(s), "index": str(i), "actual": "a", "predicted": "a" if correct[s, i] else "b"}
            for s in range(correct.shape[0]) for i in range(correct.shape[1])]


def _deep(rate: float, seed: int, seeds: int = len(SEEDS)) -> list[dict[str, str]]:
    return _predictions(np.random.default_rng(seed).random((seeds, EXAMPLES)) < rate)


def _reference(rate: float) -> dict:
    """reference.json's fields the verdict reads: true and predicted class per test row."""
    correct = np.random.default_rng(99).random(EXAMPLES) < rate
    return {"classes": ["a", "b"], "actual": [0] * EXAMPLES, "predictions": [0 if c else 1 for c in correct],
            names.TEST_ACCURACY: float(correct.mean()), "test_rows": EXAMPLES,
            "description": "standardised features + logistic regression, C=1", "library": "scikit-learn 1.x"}


def _verdict(tf_rate: float, pt_rate: float, ref_rate: float, **kwargs) -> dict:
    preds = {TF: _deep(tf_rate, 1), PT: _deep(pt_rate, 2)}
    return ref.summarize("iris", _reference(ref_rate), {}, preds, CFG, **kwargs)


# --- the verdict line, in each direction ---------------------------------------------------------------


def test_both_frameworks_beat_the_reference():
    section = _verdict(0.95, 0.93, 0.70)
    verdict = section["verdict"]
    assert verdict["outcome"] == "deep models better"
    assert verdict["text"].startswith("both frameworks beat the reference by ")
    assert all(d["low"] > 0 for d in section["differences"].values())
    assert "Holm-adjusted p" in verdict["evidence"] and "3 seeds × 300 test examples" in verdict["evidence"]


def test_the_reference_beats_both_and_says_what_that_means():
    verdict = _verdict(0.60, 0.62, 0.90)["verdict"]
    assert verdict["outcome"] == "reference better"
    assert verdict["text"].startswith("the reference beats both by ")
    assert "the deep models are under-trained or the task is linear" in verdict["text"]


def test_one_above_one_below_is_mixed_clause_by_clause():
    verdict = _verdict(0.95, 0.55, 0.78)["verdict"]
    assert verdict["outcome"] == "mixed"
    assert verdict["text"].startswith("mixed against the reference")
    assert f"{TF} beats the reference by" in verdict["text"]
    assert f"{PT} trails the reference by" in verdict["text"]
    assert verdict["text"].endswith(f"{PT} under-trained for this task, or the task close to linear")


def test_the_same_predictions_are_equivalent_not_a_win():
    preds = {fw: _predictions(np.tile(_reference(0.8)["predictions"], (3, 1)) == 0) for fw in FRAMEWORKS}
    verdict = ref.summarize("iris", _reference(0.8), {}, preds, CFG)["verdict"]
    assert verdict["outcome"] == "equivalent"
    assert verdict["text"].startswith("both frameworks are equivalent to the reference within ±1.0 points")


def test_one_seed_is_inconclusive_never_a_winner():
    preds = {TF: _deep(0.95, 1, seeds=1), PT: _deep(0.95, 2, seeds=1)}
    verdict = ref.summarize("iris", _reference(0.5), {}, preds, CFG)["verdict"]
    assert verdict["outcome"] == "inconclusive" and "beat" not in verdict["text"]
    assert verdict["text"].startswith("against the reference inconclusive")
    assert "1 seed, no interval" in verdict["text"]
    assert "would need tensorflow at least 3 seeds" in verdict["text"]


def test_too_few_examples_to_tell_says_what_would_settle_it():
    # Given a test set of 300 rows where each framework is about the reference's accuracy but not exactly
    preds = {TF: _deep(0.82, 1), PT: _deep(0.55, 2)}
    verdict = ref.summarize("iris", _reference(0.80), {}, preds, CFG)["verdict"]
    assert verdict["outcome"] == "mixed"
    assert f"{TF} vs the reference inconclusive (" in verdict["text"]
    assert "would need about" in verdict["text"]
    assert f"{PT} trails the reference by" in verdict["text"]


def test_unfair_comparison_shows_the_row_without_a_verdict():
    section = _verdict(0.95, 0.93, 0.70, fair=False)
    assert section["present"] and section["verdict"] is None
    assert ref.line(section) == "reference: no verdict: the comparison is unfair (see the fairness audit)"


def test_a_reference_of_other_test_rows_is_named_stale_not_compared():
    stale = _reference(0.7) | {"actual": [1] * EXAMPLES}
    section = ref.summarize("iris", stale, {}, {TF: _deep(0.9, 1), PT: _deep(0.9, 2)}, CFG)
    assert section["verdict"] is None
    assert "scored on different test rows" in section["note"]
    assert "crosstrain reference --task iris" in section["note"]


# --- the report and compare on real artefacts --------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, iris_prepared):
    """Real artefacts for iris (two small MLPs per seed) and the real reference, reported once via the CLI."""
    root = tmp_path_factory.mktemp("reference-report")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    params = {"seeds": list(SEEDS), "tasks": {"iris": {}}, "report": {"bootstrap_samples": 2000},
              "latency": {"calls": 20, "warmup": 2, "throughput_batch": 64, "throughput_repeats": 1}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    layout = Layout(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        make_project(root, iris_prepared, tasks=("iris",))
        fit_reference("iris", Settings.model_validate(params), iris_prepared, layout.reference("iris"),
                      tracker=Tracker(MlflowConfig()))
        patch.chdir(root)
        assert main(["report"]) == 0
    return root, uri


def test_report_shows_the_reference_row_and_its_verdict_line(project):
    root, _ = project
    layout = Layout(root)
    reference = json.loads(layout.reference("iris").read_text())
    section = json.loads(layout.report("json").read_text())["results"]["iris"]["reference"]
    assert section["present"] and section["verdict"]["question"] == ref.QUESTION
    label = f"reference: {reference['description']}"
    for page in (layout.report("html").read_text(), layout.report("md").read_text()):
        assert "Against a classical reference" in page and label in page
        assert section["verdict"]["text"] in page.replace("&#x27;", "'")
    # The summary at the top of the page carries the line too
    summary = layout.report("html").read_text().split("<h2>Summary</h2>")[1].split("</ul>")[0]
    assert "reference" in summary.lower()


def test_compare_lists_the_reference_run_after_the_frameworks(project, monkeypatch, capsys):
    root, uri = project
    monkeypatch.chdir(root)
    assert main(["compare", "--last", "--tracking-uri", uri]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "│ iris" in line]
    assert [next(fw for fw in (TF, PT, names.REFERENCE_FRAMEWORK) if fw in row) for row in rows][-1] == \
        names.REFERENCE_FRAMEWORK
    assert any(names.KIND_REFERENCE in row for row in rows)


def test_report_without_reference_json_says_it_is_absent(project, tmp_path, monkeypatch):
    root, uri = project
    older = tmp_path / "older"
    shutil.copytree(root, older)
    Layout(older).reference("iris").unlink()
    monkeypatch.chdir(older)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert main(["report"]) == 0
    md = Layout(older).report("md").read_text()
    assert "reference: not measured: run `crosstrain reference --task iris`" in md
    section = json.loads(Layout(older).report("json").read_text())["results"]["iris"]["reference"]
    assert section == {"present": False, "note": "not measured: run `crosstrain reference --task iris`",
                       "verdict": None}
