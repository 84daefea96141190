"""The train and evaluate steps in both frameworks, on real iris, against a real sqlite MLflow store."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient

from crosstrain import names
from crosstrain.config import Framework
from crosstrain.errors import MissingInputError
from crosstrain.evaluation.evaluate import evaluate
from crosstrain.training.step import train


@pytest.mark.parametrize("framework", list(Framework))
def test_train_then_evaluate_logs_one_run(framework, iris_prepared, mlflow_store, small_settings, tmp_path):
    # Given prepared iris and an empty MLflow store
    model_dir = tmp_path / "models" / framework
    # When the model is trained and evaluated
    info = train("iris", small_settings, framework, iris_prepared, model_dir)
    result = evaluate("iris", small_settings, framework, iris_prepared, model_dir,
                      tmp_path / "metrics.json", tmp_path / "plots")

    # Then the native model, history and train.json are on disk
    assert (model_dir / names.TRAIN_INFO_FILE).exists()
    assert len(json.loads((model_dir / names.HISTORY_FILE).read_text())) == small_settings.train.epochs
    assert json.loads((tmp_path / "metrics.json").read_text())[names.TEST_ACCURACY] == result[names.TEST_ACCURACY]
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "history.csv", "predictions.csv", "confusion.json", "confusion.png"}
    assert not [p for p in tmp_path.rglob(".*.tmp")]

    # And MLflow holds one run with the shared vocabulary of tags, params and metrics
    mlflow.set_tracking_uri(mlflow_store)
    run = MlflowClient().get_run(info["run_id"])
    assert run.data.tags[names.TAG_TASK] == "iris"
    assert run.data.tags[names.TAG_FRAMEWORK] == framework
    assert run.data.tags[names.TAG_SEED] == str(small_settings.seed)
    assert run.data.params["epochs"] == str(small_settings.train.epochs)
    assert run.data.metrics[names.TEST_ACCURACY] == pytest.approx(result[names.TEST_ACCURACY])
    history = MlflowClient().get_metric_history(info["run_id"], names.VAL_ACCURACY)
    assert [m.step for m in history] == list(range(small_settings.train.epochs))
    dataset = run.inputs.dataset_inputs[0].dataset
    meta = json.loads((iris_prepared / names.META_FILE).read_text())
    assert meta["digest"].startswith(dataset.digest)
    # And the model logged to MLflow loads back and predicts like the local one
    loaded = mlflow.pyfunc.load_model(info["model_uri"])
    assert loaded.metadata.signature is not None


def test_evaluate_without_a_trained_model_says_what_to_run(iris_prepared, mlflow_store, small_settings, tmp_path):
    with pytest.raises(MissingInputError, match="crosstrain train --task iris --framework pytorch"):
        evaluate("iris", small_settings, Framework.PYTORCH, iris_prepared, tmp_path / "none",
                 tmp_path / "m.json", tmp_path / "plots")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "plots").exists()


def test_train_without_prepared_data_writes_nothing(mlflow_store, small_settings, tmp_path):
    with pytest.raises(MissingInputError, match="crosstrain ingest"):
        train("iris", small_settings, Framework.PYTORCH, tmp_path / "missing", tmp_path / "model")
    assert not (tmp_path / "model").exists()
