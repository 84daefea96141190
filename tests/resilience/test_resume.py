"""A training killed (SIGKILL) after epoch k resumes at epoch k+1 in the same MLflow run and ends with
the weights of an unbroken run, in each framework."""

from __future__ import annotations

import json
import shutil
import signal

import pytest
from mlflow import MlflowClient
from paused_training import EPOCHS, start_paused, wait_for_checkpoint

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import Framework, load_settings
from crosstrain.training import checkpoint
from crosstrain.training.job import train
from crosstrain.training.loop import Interrupted

pytestmark = pytest.mark.slow  # trains end to end, kills and resumes
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


def test_retried_pod_resumes_from_the_mlflow_mirror(project, mlflow_store, tmp_path, monkeypatch):
    # Given an unbroken run's weights (the Kubeflow path: library call, checkpoints mirrored to MLflow)
    settings = load_settings(project / "params.yaml")
    prepared, out = project / "data" / "prepared" / "iris", project / "models" / "iris" / "pytorch"
    unbroken = train("iris", settings, "pytorch", prepared, out, checkpoints=tmp_path / "a", mirror=True)[0]
    # ... and a pod that dies (here: an interrupt) once epoch 3 is checkpointed
    save = checkpoint.save

    def dying(directory, **kw):
        path = save(directory, **kw)
        if len(kw["history"]["epochs"]) == KILLED_AFTER:
            raise Interrupted(signal.SIGTERM, KILLED_AFTER)
        return path

    monkeypatch.setattr(checkpoint, "save", dying)
    with pytest.raises(Interrupted):
        train("iris", settings, "pytorch", prepared, out, checkpoints=tmp_path / "b", mirror=True)
    monkeypatch.setattr(checkpoint, "save", save)

    # When the retried pod starts with an empty checkpoint directory
    resumed = train("iris", settings, "pytorch", prepared, out, checkpoints=tmp_path / "c", mirror=True)[0]

    # Then it found the killed run's mirror, continued in that run and ends bit-identical
    killed = MlflowClient(mlflow_store).search_runs(
        [MlflowClient(mlflow_store).get_run(resumed["run_id"]).info.experiment_id])
    assert len(killed) == 2 and resumed["run_id"] != unbroken["run_id"]
    history = MlflowClient(mlflow_store).get_metric_history(resumed["run_id"], names.TRAIN_LOSS)
    assert sorted(m.step for m in history) == list(range(EPOCHS))
    assert resumed[names.WEIGHTS_SHA256] == unbroken[names.WEIGHTS_SHA256]


def test_rerun_copies_finished_seeds_back_and_resumes_the_unfinished(project, mlflow_store, monkeypatch):
    # Given two seeds, the second interrupted after epoch 3 (the first finished)
    settings = load_settings(project / "params.yaml", ["seeds=[0,1]"])
    prepared, out = project / "data" / "prepared" / "iris", project / "models" / "iris" / "pytorch"
    checkpoints = project / "checkpoints" / "iris" / "pytorch"
    save = checkpoint.save

    def dying(directory, **kw):
        path = save(directory, **kw)
        if directory.name == names.seed_dir(1) and len(kw["history"]["epochs"]) == KILLED_AFTER:
            raise Interrupted(signal.SIGINT, KILLED_AFTER)
        return path

    monkeypatch.setattr(checkpoint, "save", dying)
    with pytest.raises(Interrupted):
        train("iris", settings, "pytorch", prepared, out, checkpoints=checkpoints)
    monkeypatch.setattr(checkpoint, "save", save)
    first = json.loads((out / names.seed_dir(0) / names.TRAIN_INFO_FILE).read_text())
    killed_run = checkpoint.load(checkpoints / names.seed_dir(1)).run_id

    # When DVC deletes the stage's output and runs it again
    shutil.rmtree(out)
    infos = train("iris", settings, "pytorch", prepared, out, checkpoints=checkpoints)

    # Then seed 0 is copied back, not retrained (same run, no new run), and seed 1 resumes in its run
    assert infos[0] == first
    assert infos[1]["run_id"] == killed_run
    client = MlflowClient(mlflow_store)
    assert len(client.search_runs([client.get_run(killed_run).info.experiment_id])) == 2
    steps = sorted(m.step for m in client.get_metric_history(killed_run, names.TRAIN_LOSS))
    assert steps == list(range(EPOCHS))


@pytest.mark.parametrize("framework", list(Framework))
def test_early_stopping_state_survives_a_resume(framework, project, mlflow_store, tmp_path, monkeypatch):
    # Given an unbroken run that stops early (patience 2) and restores its best epoch's weights
    overrides = ["train.epochs=30", "train.early_stopping_patience=2", "train.learning_rate=0.05"]
    settings = load_settings(project / "params.yaml", overrides)
    prepared, out = project / "data" / "prepared" / "iris", project / "models" / "iris" / framework
    unbroken = train("iris", settings, framework, prepared, out, checkpoints=tmp_path / "a")[0]
    assert unbroken["stopped_early"]
    # ... and the same training interrupted one epoch before it stops
    save, stop_at = checkpoint.save, unbroken["epochs"] - 1

    def dying(directory, **kw):
        path = save(directory, **kw)
        if len(kw["history"]["epochs"]) == stop_at:
            raise Interrupted(signal.SIGTERM, stop_at)
        return path

    monkeypatch.setattr(checkpoint, "save", dying)
    with pytest.raises(Interrupted):
        train("iris", settings, framework, prepared, out, checkpoints=tmp_path / "b")
    monkeypatch.setattr(checkpoint, "save", save)

    # When it resumes
    resumed = train("iris", settings, framework, prepared, out, checkpoints=tmp_path / "b")[0]

    # Then it stops at the same epoch with the same best epoch and the same (restored best) weights
    for key in ("epochs", "best_epoch", "stopped_early", names.WEIGHTS_SHA256):
        assert resumed[key] == unbroken[key], key
