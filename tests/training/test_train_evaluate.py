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
from crosstrain.tracking import lineage
from crosstrain.training.job import train


@pytest.mark.slow
@pytest.mark.parametrize("framework", list(Framework))
def test_train_then_evaluate_logs_one_run_per_seed(framework, iris_prepared, mlflow_store, small_settings,
                                                   tmp_path):
    # Given prepared iris, two seeds and an empty MLflow store
    settings = small_settings.model_copy(update={"seeds": [3, 7]})
    model_dir = tmp_path / "models" / framework
    (model_dir / names.seed_dir(99)).mkdir(parents=True)  # left by an earlier run with other seeds
    # When the model is trained and evaluated
    infos = train("iris", settings, framework, iris_prepared, model_dir)
    result = evaluate("iris", settings, framework, iris_prepared, model_dir,
                      metrics_file=tmp_path / "metrics.json", plots_dir=tmp_path / "plots")

    # Then each seed's native model, history and train.json are on disk, and no other seed's
    assert sorted(p.name for p in model_dir.iterdir()) == [names.seed_dir(3), names.seed_dir(7)]
    assert [info["seed"] for info in infos] == [3, 7]
    for info in infos:
        seed_dir = model_dir / names.seed_dir(info["seed"])
        assert len(json.loads((seed_dir / names.HISTORY_FILE).read_text())) == settings.train.epochs
        # and: the speed and resource figures a fair comparison needs
        assert info[names.TRAIN_THROUGHPUT] > 0 and info[names.COMPILE_TIME] >= 0
        assert info[names.PEAK_RSS] > info[names.TRAIN_RSS] >= 0
        assert info[names.FLOPS_PER_EXAMPLE] > 0 and info["threads"] == settings.train.threads
    # and: different seeds start from different weights, so they end differently
    assert infos[0]["weights_sha256"] != infos[1]["weights_sha256"]
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert [run["seed"] for run in written["runs"]] == [3, 7]
    assert written["mean"][names.TEST_ACCURACY] == pytest.approx(
        sum(run[names.TEST_ACCURACY] for run in written["runs"]) / 2)
    for run in written["runs"]:
        assert run[names.LATENCY_P99] >= run[names.LATENCY_P50] > 0 and run[names.MODEL_SIZE] > 0
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "history.csv", "predictions.csv", "confusion.json", "confusion.png"}
    history = (tmp_path / "plots" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 2 * settings.train.epochs and history[0].endswith(names.WALL_TIME)
    predictions = (tmp_path / "plots" / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 1 + 2 * written["test_rows"]
    assert not [p for p in tmp_path.rglob(".*.tmp")]

    # And MLflow holds one run per seed with the shared vocabulary of tags, params and metrics
    mlflow.set_tracking_uri(mlflow_store)
    for info, scored in zip(infos, written["runs"], strict=True):
        run = MlflowClient().get_run(info["run_id"])
        assert run.data.tags[names.TAG_TASK] == "iris"
        assert run.data.tags[names.TAG_FRAMEWORK] == framework
        assert run.data.tags[names.TAG_SEED] == str(info["seed"])
        assert run.data.tags[names.TAG_MODE] == "eager-fp32"
        assert run.data.params["epochs"] == str(settings.train.epochs)
        assert run.data.metrics[names.TEST_ACCURACY] == pytest.approx(scored[names.TEST_ACCURACY])
        steps = MlflowClient().get_metric_history(info["run_id"], names.VAL_ACCURACY)
        assert [m.step for m in steps] == list(range(settings.train.epochs))
        # and: the dataset digest is the DVC hash of the prepared directory (what `dvc pull` restores)
        dataset = run.inputs.dataset_inputs[0].dataset
        assert dataset.digest == run.data.tags[names.TAG_DATA_DIGEST] == lineage.dvc_md5(iris_prepared)
        assert info["data_digest"] == json.loads((iris_prepared / names.META_FILE).read_text())["digest"]
    # And the model logged to MLflow loads back with its signature
    loaded = mlflow.pyfunc.load_model(infos[0]["model_uri"])
    assert loaded.metadata.signature is not None


def test_evaluate_without_a_trained_model_says_what_to_run(iris_prepared, mlflow_store, small_settings,
                                                           tmp_path):
    with pytest.raises(MissingInputError, match="crosstrain train --task iris --framework pytorch"):
        evaluate("iris", small_settings, Framework.PYTORCH, iris_prepared, tmp_path / "none",
                 metrics_file=tmp_path / "m.json", plots_dir=tmp_path / "plots")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "plots").exists()


def test_train_without_prepared_data_writes_nothing(mlflow_store, small_settings, tmp_path):
    with pytest.raises(MissingInputError, match="crosstrain ingest"):
        train("iris", small_settings, Framework.PYTORCH, tmp_path / "missing", tmp_path / "model")
    assert not (tmp_path / "model").exists()
