"""A training killed (SIGKILL) after epoch k resumes at epoch k+1 in the same MLflow run and ends with
the weights of an unbroken run, in each framework."""

from __future__ import annotations

import json
import signal

import pytest
from mlflow import MlflowClient
from paused_training import EPOCHS, start_paused, wait_for_checkpoint

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import Framework
from crosstrain.training import checkpoint

KILLED_AFTER = 3


def _train_info(project, framework) -> dict:
    path = project / "models" / "iris" / framework / names.seed_dir(0) / names.TRAIN_INFO_FILE
    return json.loads(path.read_text())


@pytest.mark.parametrize("framework", list(Framework))
def test_killed_training_resumes_in_its_run_bit_identical(framework, project, mlflow_store):
    # Given the weights of an uninterrupted run
    assert main(["train", "--task", "iris", "--framework", framework]) == 0
    unbroken = _train_info(project, framework)

    # When a fresh training is killed outright once epoch 3 of 6 is checkpointed
    process = start_paused(framework, KILLED_AFTER, 120)
    try:
        wait_for_checkpoint(process, KILLED_AFTER)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    seed_checkpoint = project / "checkpoints" / "iris" / framework / names.seed_dir(0)
    saved = checkpoint.load(seed_checkpoint)
    assert saved.status == checkpoint.TRAINING and saved.epochs == KILLED_AFTER
    assert saved.run_id != unbroken["run_id"]
    # ... and started again
    assert main(["train", "--task", "iris", "--framework", framework]) == 0
    resumed = _train_info(project, framework)

    # Then it continued in the killed run, logged every epoch exactly once, and ends bit-identical
    assert resumed["run_id"] == saved.run_id
    history = MlflowClient(mlflow_store).get_metric_history(saved.run_id, names.TRAIN_LOSS)
    assert sorted(m.step for m in history) == list(range(EPOCHS))
    assert MlflowClient(mlflow_store).get_run(saved.run_id).info.status == "FINISHED"
    assert resumed["epochs"] == EPOCHS
    assert resumed[names.WEIGHTS_SHA256] == unbroken[names.WEIGHTS_SHA256]
    assert resumed["final"] == {**unbroken["final"], names.EPOCH_TIME: resumed["final"][names.EPOCH_TIME]}
    # ... and, all seeds trained, the checkpoint is reduced to a record: the next training starts afresh
    assert checkpoint.load(seed_checkpoint).status == checkpoint.COMPLETE
