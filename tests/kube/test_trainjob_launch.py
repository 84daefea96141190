"""Waiting for a TrainJob, reporting its status, failing with the pod's last log lines, deleting it.

No cluster can run here: the `kubernetes` client talks to a fake API server on 127.0.0.1 (conftest.py),
and files are staged in a local directory instead of the MLflow server's artifact proxy.

.venv/bin/python -m pytest tests/kube/test_trainjob_launch.py -q
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.kube import launch, staging
from crosstrain.kube.trainjob import TrainJobFailed


def condition(kind: str, reason: str = "", message: str = "") -> dict:
    """A TrainJob status with one true condition, as the Trainer controller sets it."""
    return {
        "conditions": [
            {
                "type": kind,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
    }


RUNNING = {
    "conditions": [
        {
            "type": "Created",
            "status": "True",
            "reason": "JobsCreated",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    ],
    "jobsStatus": [{"name": "node", "active": 2, "succeeded": 0, "failed": 0, "ready": 2, "suspended": 0}],
}


SEEDS = [3, 1]


def settings(keep: bool = False) -> Settings:
    return Settings.model_validate(
        {
            "cluster": {
                "namespace": "ml",
                "distributed": {"workers": 2, "keep_jobs": keep, "timeout_s": 30, "poll_s": 0.01},
            },
            "seeds": SEEDS,
        }
    )


def fake_worker_zero(stage: Path, seeds: list[int] = SEEDS):
    """What worker 0 does when training ends: upload models/<task>/<fw> (seed-<s>/train.json each)."""

    def upload(job: dict) -> None:
        if any(c["type"] == "Complete" for c in job["status"].get("conditions", [])):
            model = stage.parent / "worker-model"
            for seed in seeds:
                (model / names.seed_dir(seed)).mkdir(parents=True, exist_ok=True)
                info = {"seed": seed, "run_id": f"r{seed}", "model_uri": f"m:/{seed}"}
                (model / names.seed_dir(seed) / names.TRAIN_INFO_FILE).write_text(json.dumps(info))
            staging.put_model(str(stage), model)

    return upload


@pytest.fixture
def stage(tmp_path) -> Path:
    return tmp_path / "stage"


def test_success_reports_status_fetches_the_model_and_deletes_the_job(
    fake_kube, trainjobs, stage, tmp_path, iris_prepared
):
    # Given a TrainJob that runs, then completes, and a worker 0 that uploads the model
    fake_kube.statuses = [{}, RUNNING, RUNNING, condition("Complete", "JobSetCompleted")]
    fake_kube.on_get.append(fake_worker_zero(stage))
    lines: list[str] = []
    # When the pipeline's train step launches it
    info = launch.train(
        settings(),
        "{}",
        "iris",
        "pytorch",
        iris_prepared,
        tmp_path / "model",
        jobs=trainjobs,
        stage=str(stage),
        report=lines.append,
    )
    # Then it waited through each status change, fetched worker 0's models (every seed's), and cleaned up
    assert info == [{"seed": s, "run_id": f"r{s}", "model_uri": f"m:/{s}"} for s in SEEDS]
    assert all((tmp_path / "model" / names.seed_dir(s) / names.TRAIN_INFO_FILE).is_file() for s in SEEDS)
    assert any("Created(JobsCreated) [node: 2 active" in line for line in lines)
    assert any("Complete(JobSetCompleted)" in line for line in lines)
    (name,) = fake_kube.deleted
    assert name.startswith("ct-iris-pt-") and not fake_kube.jobs
    assert not stage.exists() or not any(stage.iterdir())  # staged files removed


def test_failure_raises_with_the_failing_pods_last_log_lines_and_still_deletes(
    fake_kube, trainjobs, stage, tmp_path, iris_prepared
):
    # Given a TrainJob whose worker 1 crashes
    fake_kube.statuses = [RUNNING, condition("Failed", "TrainingFailed", "jobset failed")]
    fake_kube.pods = {
        "ct-node-0-0": ("Running", "epoch 1\n"),
        "ct-node-0-1": ("Failed", "epoch 1\nTraceback ...\nRuntimeError: NCCL timeout\n"),
    }
    # When the train step waits for it, Then it fails with the reason and the failed pod's log
    with pytest.raises(TrainJobFailed, match="failed: TrainingFailed jobset failed") as err:
        launch.train(
            settings(),
            "{}",
            "iris",
            "tensorflow",
            iris_prepared,
            tmp_path / "model",
            jobs=trainjobs,
            stage=str(stage),
            report=lambda _: None,
        )
    assert "--- pod ct-node-0-1" in str(err.value) and "RuntimeError: NCCL timeout" in str(err.value)
    assert "ct-node-0-0" not in str(err.value)  # only the failed pod's log
    assert any("tailLines=40" in path for method, path in fake_kube.requests if method == "GET")
    assert len(fake_kube.deleted) == 1 and not fake_kube.jobs


def test_keep_jobs_leaves_the_trainjob_and_staged_files(fake_kube, trainjobs, stage, tmp_path, iris_prepared):
    fake_kube.statuses = [condition("Complete")]
    fake_kube.on_get.append(fake_worker_zero(stage))
    launch.train(
        settings(keep=True),
        "{}",
        "iris",
        "pytorch",
        iris_prepared,
        tmp_path / "model",
        jobs=trainjobs,
        stage=str(stage),
        report=lambda _: None,
    )
    assert not fake_kube.deleted and len(fake_kube.jobs) == 1
    assert (stage / staging.PREPARED / "meta.json").exists()


def test_timeout_fails_and_deletes(fake_kube, trainjobs):
    fake_kube.statuses = [RUNNING]
    trainjobs.create(
        {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainJob",
            "metadata": {"name": "ct-slow"},
            "spec": {"runtimeRef": {"name": "torch-distributed"}},
        }
    )
    with pytest.raises(TrainJobFailed, match="did not finish in 0.05s"):
        trainjobs.wait("ct-slow", timeout_s=0.05, poll_s=0.01, report=lambda _: None)
    trainjobs.delete("ct-slow")
    assert fake_kube.deleted == ["ct-slow"]


def test_the_pods_stage_in_train_and_worker_zero_returns_the_model(tmp_path, iris_prepared, monkeypatch):
    # Given inputs staged by the launcher
    from crosstrain.kube import node

    stage = tmp_path / "stage"
    staging.put_inputs(str(stage), "seed: 1\n", iris_prepared)
    # When worker 0's entrypoint runs a command that writes the model where `crosstrain train` does
    writes = (
        "import json,pathlib,sys; assert pathlib.Path('params.yaml').read_text()=='seed: 1\\n'; "
        "assert pathlib.Path('data/prepared/iris/meta.json').exists(); "
        "assert json.load(open('reports/validation/iris/validation.json'))['success']; "
        "m=pathlib.Path('models/iris/pytorch/seed-0'); m.mkdir(parents=True); "
        "(m/'train.json').write_text('{}')"
    )
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "0")
    status = node.main(
        [
            "--stage",
            str(stage),
            "--task",
            "iris",
            "--framework",
            "pytorch",
            "--workdir",
            str(tmp_path / "work"),
            "--",
            sys.executable,
            "-c",
            writes,
        ]
    )
    # Then it succeeded and the model is staged for the launcher
    assert status == 0 and (stage / staging.MODEL / "seed-0" / "train.json").exists()


def test_a_completed_job_without_a_staged_model_is_an_error(
    fake_kube, trainjobs, stage, tmp_path, iris_prepared
):
    from crosstrain.errors import MissingInputError

    fake_kube.statuses = [condition("Complete")]
    with pytest.raises(MissingInputError, match="worker 0 staged no model"):
        launch.train(
            settings(),
            "{}",
            "iris",
            "pytorch",
            iris_prepared,
            tmp_path / "model",
            jobs=trainjobs,
            stage=str(stage),
            report=lambda _: None,
        )
    assert len(fake_kube.deleted) == 1


def test_a_staged_model_missing_a_seed_is_an_error(fake_kube, trainjobs, stage, tmp_path, iris_prepared):
    # Given a worker 0 that staged only seed 3 of seeds [3, 1] (say, it ran with other params)
    from crosstrain.errors import MissingInputError

    fake_kube.statuses = [condition("Complete")]
    fake_kube.on_get.append(fake_worker_zero(stage, seeds=[3]))
    # Then the launcher names the missing seed
    with pytest.raises(MissingInputError, match=r"seed-1/train.json \(seed 1\)"):
        launch.train(
            settings(),
            "{}",
            "iris",
            "pytorch",
            iris_prepared,
            tmp_path / "model",
            jobs=trainjobs,
            stage=str(stage),
            report=lambda _: None,
        )
