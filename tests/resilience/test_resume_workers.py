"""A 2-worker training (PyTorch: torchrun + gloo; TensorFlow: MultiWorkerMirroredStrategy) killed after
epoch k resumes on 2 workers: rank 0 wrote the checkpoint, every rank reads it, and the run ends
bit-identical in the same MLflow run."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys

import pytest
from mlflow import MlflowClient
from paused_training import EPOCHS, here_env

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import Framework
from crosstrain.training import checkpoint

pytestmark = pytest.mark.slow  # trains on 2 workers, twice, and kills one run
psutil = pytest.importorskip("psutil")  # to kill the launcher's whole process tree
KILLED_AFTER = 3
# crosstrain's own launcher, starting the workers as `python -m paused_training K PAUSE_S ARGS`.
LAUNCH = "import sys; from crosstrain.distributed import launch; " \
         "launch.run(sys.argv[1], 2, sys.argv[2:], threads=1, module='paused_training')"


def _train_info(project, framework) -> dict:
    return json.loads((project / "models" / "iris" / framework / names.seed_dir(0) / names.TRAIN_INFO_FILE)
                      .read_text())


@pytest.mark.parametrize("framework", list(Framework))
def test_two_worker_run_killed_resumes_on_two_workers_bit_identical(framework, project, mlflow_store):
    # Given the weights of an unbroken 2-worker run
    train = ["train", "--task", "iris", "--framework", framework, "--workers", "2"]
    assert main(train) == 0
    unbroken = _train_info(project, framework)

    # When a 2-worker training (launcher and both workers) is killed once rank 0 checkpointed epoch 3
    command = [sys.executable, "-c", LAUNCH, framework, str(KILLED_AFTER), "120", *train]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=here_env(), start_new_session=True)
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if line.strip().endswith(f"CHECKPOINT {KILLED_AFTER}"):
                break
        else:
            pytest.fail("training ended before the checkpoint:\n" + "".join(output[-30:]))
    finally:
        # Like a lost node: every process at once (the launcher starts each worker in its own session).
        for child in [*psutil.Process(process.pid).children(recursive=True), psutil.Process(process.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGKILL)
        process.wait()
    saved = checkpoint.load(project / "checkpoints" / "iris" / framework / names.seed_dir(0))
    assert saved.epochs == KILLED_AFTER
    # ... and started again on 2 workers
    assert main(train) == 0
    resumed = _train_info(project, framework)

    # Then both ranks continued from rank 0's checkpoint in the killed run, ending bit-identical
    assert resumed["run_id"] == saved.run_id and resumed["world_size"] == 2
    history = MlflowClient(mlflow_store).get_metric_history(saved.run_id, names.TRAIN_LOSS)
    steps = sorted(m.step for m in history)
    assert steps == list(range(EPOCHS))
    assert resumed[names.WEIGHTS_SHA256] == unbroken[names.WEIGHTS_SHA256]
