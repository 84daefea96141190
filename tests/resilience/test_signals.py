"""SIGTERM (or SIGINT) in the middle of training: exit 143 (130) at a step boundary, the last complete
epoch checkpointed, the MLflow run KILLED, and no model output left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient
from paused_training import start_paused, wait_for_checkpoint

from crosstrain import names
from crosstrain.training import checkpoint

pytestmark = pytest.mark.slow  # trains in a subprocess until signalled
SIGNALLED_AFTER = 2


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_checkpoints_marks_killed_and_exits_128_plus_signal(signum, code, project, mlflow_store):
    # Given a training paused (1 s) right after checkpointing epoch 2
    process = start_paused("pytorch", SIGNALLED_AFTER, 1.0)
    wait_for_checkpoint(process, SIGNALLED_AFTER)

    # When it gets the signal there: it goes on into epoch 3 and must stop at its first step boundary
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    # Then it exits 128 + the signal with a one-line message
    assert process.returncode == code, stderr
    message = [line for line in stderr.splitlines() if line.startswith("crosstrain:")]
    assert len(message) == 1 and signal.Signals(signum).name in message[0] and "Traceback" not in stderr
    # ... the checkpoint holds the last complete epoch
    saved = checkpoint.load(project / "checkpoints" / "iris" / "pytorch" / names.seed_dir(0))
    assert saved.status == checkpoint.TRAINING and saved.epochs == SIGNALLED_AFTER
    # ... the run is KILLED with exactly the complete epochs logged
    client = MlflowClient(mlflow_store)
    assert client.get_run(saved.run_id).info.status == "KILLED"
    steps = sorted(m.step for m in client.get_metric_history(saved.run_id, names.TRAIN_LOSS))
    assert steps == list(range(SIGNALLED_AFTER))
    # ... and nothing was written under models/ (no model, no temporary directory)
    models = project / "models"
    assert not models.exists() or not any(models.rglob("*"))


def test_sigterm_to_the_launcher_stops_its_workers_at_a_step_boundary(project, mlflow_store):
    # Given `crosstrain train --workers 2` (PyTorch) in the middle of a long training, 2 epochs checkpointed
    process = subprocess.Popen(
        [sys.executable, "-m", "crosstrain.cli.main", "train", "--task", "iris", "--framework", "pytorch",
         "--workers", "2", "--set", "train.epochs=5000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seed_checkpoint = project / "checkpoints" / "iris" / "pytorch" / names.seed_dir(0)
    deadline = time.monotonic() + 120
    while (saved := checkpoint.load(seed_checkpoint)) is None or saved.epochs < SIGNALLED_AFTER:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)

    # When the launcher gets SIGTERM
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    # Then it exits 143 with one line, its workers stopped with a complete checkpoint, the run KILLED
    assert process.returncode == 143, stderr
    assert [line for line in stderr.splitlines() if line.startswith("crosstrain:")][-1].count("SIGTERM") == 1
    saved = checkpoint.load(seed_checkpoint)
    assert saved.status == checkpoint.TRAINING and saved.epochs >= SIGNALLED_AFTER
    assert MlflowClient(mlflow_store).get_run(saved.run_id).info.status == "KILLED"
    models = project / "models"
    assert not models.exists() or not any(models.rglob("*"))
