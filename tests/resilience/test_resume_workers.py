"""A 2-process PyTorch training (torchrun, gloo) killed after epoch k resumes on 2 workers: rank 0 wrote
the checkpoint, every rank reads it, and the run ends bit-identical in the same MLflow run."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from mlflow import MlflowClient
from paused_training import EPOCHS, MODULE, here_env

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.distributed import launch
from crosstrain.training import checkpoint

KILLED_AFTER = 3
TRAIN = ["train", "--task", "iris", "--framework", "pytorch", "--workers", "2"]


def _train_info(project) -> dict:
    return json.loads((project / "models" / "iris" / "pytorch" / names.seed_dir(0) / names.TRAIN_INFO_FILE)
                      .read_text())


def test_two_worker_run_killed_resumes_on_two_workers_bit_identical(project, mlflow_store):
    # Given the weights of an unbroken 2-worker run
    assert main(TRAIN) == 0
    unbroken = _train_info(project)

    # When a 2-worker training (torchrun and both ranks) is killed once rank 0 checkpointed epoch 3
    command = launch.torchrun_command(2, [str(KILLED_AFTER), "120", *TRAIN], module=MODULE)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**here_env(), **launch.thread_env(1)}, start_new_session=True)
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if line.strip().endswith(f"CHECKPOINT {KILLED_AFTER}"):
                break
        else:
            pytest.fail("training ended before the checkpoint:\n" + "".join(output[-30:]))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    saved = checkpoint.load(project / "checkpoints" / "iris" / "pytorch" / names.seed_dir(0))
    assert saved.epochs == KILLED_AFTER
    # ... and started again on 2 workers
    assert main(TRAIN) == 0
    resumed = _train_info(project)

    # Then both ranks continued from rank 0's checkpoint in the killed run, ending bit-identical
    assert resumed["run_id"] == saved.run_id and resumed["world_size"] == 2
    history = MlflowClient(mlflow_store).get_metric_history(saved.run_id, names.TRAIN_LOSS)
    steps = sorted(m.step for m in history)
    assert steps == list(range(EPOCHS))
    assert resumed[names.WEIGHTS_SHA256] == unbroken[names.WEIGHTS_SHA256]
