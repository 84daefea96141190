"""TrainJob manifests (crosstrain.kube.trainjob.build) for both frameworks, checked against Trainer v1alpha1.

The check is the Kubeflow SDK's models of the Trainer API (`pip install kubeflow`: kubeflow_trainer_api):
the manifest must parse and come back unchanged, so no field is unknown, misplaced or mistyped.

.venv/bin/python -m pytest tests/kube/test_trainjob.py -q
"""

from __future__ import annotations

import pytest

from crosstrain.config import Framework, Settings
from crosstrain.kube import trainjob

STAGE = "http://mlflow:5000/api/2.0/mlflow-artifacts/artifacts/trainjobs/ct-images-pt-abc123"


def settings(**cluster) -> Settings:
    base = {"distributed": {"workers": 3}, "gpu": {"count": 2, "node_selector": {"pool": "gpu"}}}
    return Settings.model_validate(
        {"cluster": {**base, **cluster}, "mlflow": {"tracking_uri": "http://mlflow:5000"}}
    )


def node_patch(job: dict) -> dict:
    (patch,) = job["spec"]["runtimePatches"]
    (replicated,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert replicated["name"] == trainjob.NODE
    return replicated["template"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("framework", list(Framework))
def test_trainjob_validates_against_the_trainer_v1alpha1_models(framework):
    models = pytest.importorskip("kubeflow_trainer_api.models", reason="pip install kubeflow (Trainer SDK)")
    job = trainjob.build(settings(), "images", framework, "ct-images-x-abc123", STAGE)
    parsed = models.TrainerV1alpha1TrainJob.from_dict(job)
    assert parsed.to_dict() == job  # nothing dropped (unknown) or coerced
    assert parsed.spec.trainer.num_nodes == 3


def test_pytorch_runs_torchrun_on_trainers_runtime_with_one_process_per_gpu():
    job = trainjob.build(settings(), "images", "pytorch", "ct-images-pt-abc123", STAGE)
    spec, trainer = job["spec"], job["spec"]["trainer"]
    assert (job["apiVersion"], job["kind"]) == ("trainer.kubeflow.org/v1alpha1", "TrainJob")
    assert spec["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": "torch-distributed",
    }
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (3, 2)
    assert trainer["image"] == "ghcr.io/crosstrain/crosstrain-pytorch:" + trainer["image"].rsplit(":", 1)[1]
    command = " ".join(trainer["command"])
    assert command.startswith(
        f"python -m crosstrain.kube.node --stage {STAGE} --task images --framework pytorch --"
    )
    assert "-- torchrun --no-python crosstrain train --task images --framework pytorch" in command
    assert "train.distributed.workers=6" in command  # world size: 3 nodes x 2 GPUs
    assert {"name": trainjob.SHM_VOLUME, "mountPath": "/dev/shm"} in node_patch(job)["containers"][0][
        "volumeMounts"
    ]


def test_tensorflow_runs_crosstrains_runtime_through_the_tf_config_entrypoint():
    job = trainjob.build(settings(), "iris", "tensorflow", "ct-iris-tf-abc123", STAGE)
    trainer = job["spec"]["trainer"]
    assert job["spec"]["runtimeRef"]["name"] == "crosstrain-tensorflow-distributed"
    assert "numProcPerNode" not in trainer
    assert "-- python -m crosstrain.kube.tf_entrypoint -- crosstrain train --task iris" in " ".join(
        trainer["command"]
    )
    assert {"name": "CROSSTRAIN_NUM_NODES", "value": "3"} in trainer["env"]
    assert "volumes" not in node_patch(job)


def test_gpu_placement_and_sizes_come_from_the_pipelines_params():
    cfg = settings()
    job = trainjob.build(cfg, "iris", "tensorflow", "ct-iris-tf-abc123", STAGE)
    resources, pod = job["spec"]["trainer"]["resourcesPerNode"], node_patch(job)
    train = cfg.cluster.resources.train
    assert resources["requests"] == {"cpu": train.cpu_request, "memory": train.memory_request}
    assert resources["limits"] == {
        "cpu": train.cpu_limit,
        "memory": train.memory_limit,
        "nvidia.com/gpu": "2",
    }
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_cpu_training_asks_for_no_accelerator_and_no_gpu_nodes():
    job = trainjob.build(settings(gpu={"count": 0}), "iris", "tensorflow", "ct-iris-tf-abc123", STAGE)
    assert "nvidia.com/gpu" not in job["spec"]["trainer"]["resourcesPerNode"]["limits"]
    assert "runtimePatches" not in job["spec"]


def test_pods_get_mlflow_credentials_from_the_same_secrets_as_the_pipeline():
    job = trainjob.build(settings(), "iris", "pytorch", "ct-iris-pt-abc123", STAGE)
    env = {e["name"]: e for e in job["spec"]["trainer"]["env"]}
    assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow:5000"
    ref = env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("crosstrain-mlflow-client", "password")


@pytest.mark.parametrize(
    ("task", "framework"), [("iris", "pytorch"), ("A_Very_Long_Task_Name_Indeed!", "tensorflow")]
)
def test_job_names_are_fresh_dns_labels_that_leave_room_for_pod_hostnames(task, framework):
    import re

    first, second = trainjob.job_name(task, framework), trainjob.job_name(task, framework)
    assert first != second
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", first) and len(f"{first}-node-0-99") <= 63
