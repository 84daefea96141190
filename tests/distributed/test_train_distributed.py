"""Two local workers train iris like one process does, in both frameworks, with one MLflow run.

Each run starts real workers (torchrun + gloo, or TF_CONFIG + MultiWorkerMirroredStrategy over RING)
through `crosstrain train --workers 2`. Rank 0 checks at the end that every rank holds the same
weights (an all-reduce of their digests; a mismatch fails the run), so a passing run is the
identical-weights check.
"""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import Framework
from crosstrain.distributed import scaling

pytestmark = pytest.mark.slow  # starts 2 real workers per framework
# SGD, not Adam: Adam hides a gradient off by a constant factor; SGD's loss curve shows it.
PARAMS = {"seed": 42, "seeds": [0], "tasks": {"iris": {"model": {"kind": "mlp", "hidden": [8]}}},
          "train": {"epochs": 2, "batch_size": 16, "learning_rate": 0.1, "optimizer": "sgd", "momentum": 0.9}}
# Float sums in another order (all-reduce) may differ in the last bits; nothing more.
LOSS_RTOL = 1e-5


@pytest.fixture
def project(tmp_path, monkeypatch, iris_prepared, mlflow_store):
    """A crosstrain project with prepared, validated iris and an empty MLflow store; the current directory."""
    shutil.copytree(iris_prepared, tmp_path / "data" / "prepared" / "iris")
    (tmp_path / "reports" / "validation" / "iris").mkdir(parents=True)
    (tmp_path / "reports" / "validation" / "iris" / names.VALIDATION_FILE).write_text('{"success": true}')
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _history(project, framework) -> list[dict]:
    seed_dir = project / "models" / "iris" / framework / names.seed_dir(0)
    return json.loads((seed_dir / names.HISTORY_FILE).read_text())


@pytest.mark.parametrize("framework", list(Framework))
def test_two_workers_match_one_and_log_one_run(framework, project, mlflow_store):
    # Given a 1-worker run of iris
    assert main(["train", "--task", "iris", "--framework", framework]) == 0
    single = _history(project, framework)
    # When the same settings train on 2 workers
    assert main(["train", "--task", "iris", "--framework", framework, "--workers", "2"]) == 0
    double = _history(project, framework)
    seed_dir = project / "models" / "iris" / framework / names.seed_dir(0)
    info = json.loads((seed_dir / names.TRAIN_INFO_FILE).read_text())

    # Then the loss and accuracy curves are the 1-worker ones, within float re-ordering
    for one, two in zip(single, double, strict=True):
        for metric in (names.TRAIN_LOSS, names.VAL_LOSS):
            assert two[metric] == pytest.approx(one[metric], rel=LOSS_RTOL)
        assert two[names.VAL_ACCURACY] == one[names.VAL_ACCURACY]
    # And MLflow holds exactly one more run, rank 0's, with the distributed params and scaling metrics
    mlflow.set_tracking_uri(mlflow_store)
    runs = MlflowClient().search_runs([mlflow.get_experiment_by_name("crosstrain").experiment_id])
    assert len(runs) == 2
    run = MlflowClient().get_run(info["run_id"])
    assert run.data.params[scaling.WORLD_SIZE] == "2"
    assert run.data.params[scaling.BACKEND] == {"pytorch": "gloo", "tensorflow": "ring"}[framework]
    assert run.data.params[scaling.THREADS_PER_WORKER] == "1"
    assert info[scaling.BASELINE_RUN] != info["run_id"]
    assert np.isfinite(run.data.metrics[scaling.SCALING_EFFICIENCY])
    assert run.data.metrics[scaling.THROUGHPUT] > 0
