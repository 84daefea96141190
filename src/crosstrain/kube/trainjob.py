"""Kubeflow Trainer v2 TrainJobs (trainer.kubeflow.org/v1alpha1): build, submit, wait, logs, delete.

    job = build(settings, "images", Framework.PYTORCH, name=job_name("images", "pytorch"), stage=uri)
    jobs = TrainJobs(namespace="kubeflow")          # in-cluster config, else ~/.kube/config
    jobs.create(job); jobs.wait(job["metadata"]["name"], timeout_s=3600, poll_s=15)

Framework-neutral: the runtime, command and image differ per framework (RUNTIMES, command());
placement comes from the same params as the pipeline's (`cluster.gpu`, `cluster.resources.train`,
`cluster.distributed`). PyTorch runs on Trainer's `torch-distributed` runtime (torchrun reads the
PET_* variables it injects); TensorFlow on crosstrain's runtime in k8s/trainer/ (TF_CONFIG from the
JobSet environment, crosstrain.kube.tf_config). Each pod runs crosstrain.kube.node.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from crosstrain.config import Framework, Settings
from crosstrain.config.cluster import ClusterConfig
from crosstrain.errors import CrosstrainError

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
API_VERSION = f"{GROUP}/{VERSION}"
RUNTIMES = {Framework.PYTORCH: "torch-distributed", Framework.TENSORFLOW: "crosstrain-tensorflow-distributed"}
NODE = "node"  # the replicated job and container name of both runtimes
PATCH_MANAGER = "crosstrain.io/pipeline"
SHM_VOLUME = "dshm"
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"
LOG_LINES = 40


class TrainJobFailed(CrosstrainError):
    """A TrainJob failed or timed out; the message carries the failing pod's last log lines."""


def job_name(task: str, framework: str) -> str:
    """A fresh DNS-1035 name, short enough for JobSet pod hostnames (`<name>-node-0-<i>`, 63 chars)."""
    short = {"pytorch": "pt", "tensorflow": "tf"}.get(str(framework), str(framework)[:4])
    stem = re.sub(r"[^a-z0-9-]+", "-", task.lower()).strip("-")[:20] or "task"
    return f"ct-{stem}-{short}-{secrets.token_hex(3)}"


def command(task: str, framework: Framework, stage: str, workers: int) -> list[str]:
    """The pod command: crosstrain.kube.node stages in, the framework's launcher runs `crosstrain train`."""
    train = [
        "crosstrain",
        "train",
        "--task",
        task,
        "--framework",
        framework.value,
        "--params",
        "params.yaml",
        "--set",
        f"train.distributed.workers={workers}",
    ]
    launcher = (
        ["torchrun", "--no-python"]
        if framework is Framework.PYTORCH
        else ["python", "-m", "crosstrain.kube.tf_entrypoint", "--"]
    )
    node = [
        "python",
        "-m",
        "crosstrain.kube.node",
        "--stage",
        stage,
        "--task",
        task,
        "--framework",
        framework.value,
        "--",
    ]
    return node + launcher + train


def _secret_env(cluster: ClusterConfig) -> list[dict]:
    """The MLflow and object-store credentials, as the pipeline's training step gets them."""
    refs = []
    if cluster.secrets.mlflow:
        refs += [
            (cluster.secrets.mlflow, "username", "MLFLOW_TRACKING_USERNAME"),
            (cluster.secrets.mlflow, "password", "MLFLOW_TRACKING_PASSWORD"),
        ]
    if cluster.secrets.object_store:
        refs += [
            (cluster.secrets.object_store, "access_key", "AWS_ACCESS_KEY_ID"),
            (cluster.secrets.object_store, "secret_key", "AWS_SECRET_ACCESS_KEY"),
        ]
    env = [
        {
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": cluster.secrets.optional}},
        }
        for secret, key, var in refs
    ]
    if cluster.s3_endpoint_url:
        env.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": cluster.s3_endpoint_url})
    return env


def _resources(cluster: ClusterConfig) -> dict:
    train, gpu = cluster.resources.train, cluster.gpu
    limits = {"cpu": train.cpu_limit, "memory": train.memory_limit}
    if gpu.count:
        limits[gpu.accelerator] = str(gpu.count)
    return {"requests": {"cpu": train.cpu_request, "memory": train.memory_request}, "limits": limits}


def _pod_patch(cluster: ClusterConfig, framework: Framework) -> dict:
    """Placement (node selector, tolerations) and PyTorch's /dev/shm: a runtime patch of the `node` pods."""
    spec: dict = {}
    gpu = cluster.gpu
    if gpu.count and gpu.node_selector:
        spec["nodeSelector"] = dict(gpu.node_selector)
    if gpu.count and gpu.tolerations:
        spec["tolerations"] = [t.model_dump(exclude_none=True) for t in gpu.tolerations]
    if framework is Framework.PYTORCH:
        spec["volumes"] = [
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": cluster.resources.shm_size}}
        ]
        spec["containers"] = [{"name": NODE, "volumeMounts": [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}]}]
    return spec


def build(settings: Settings, task: str, framework: Framework | str, name: str, stage: str) -> dict:
    """The TrainJob manifest training `task` in `framework` on `cluster.distributed.workers` nodes."""
    framework = Framework(framework)
    cluster = settings.cluster
    nodes = cluster.distributed.workers
    procs = max(cluster.gpu.count, 1) if framework is Framework.PYTORCH else 1
    trainer = {
        "image": cluster.images.image(framework.value),
        "command": command(task, framework, stage, nodes * procs),
        "numNodes": nodes,
        "resourcesPerNode": _resources(cluster),
        "env": [
            {"name": "CROSSTRAIN_NUM_NODES", "value": str(nodes)},
            {"name": "MLFLOW_TRACKING_URI", "value": settings.mlflow.tracking_uri},
            *_secret_env(cluster),
        ],
    }
    if framework is Framework.PYTORCH:
        trainer["numProcPerNode"] = procs
    spec: dict = {
        "runtimeRef": {"apiGroup": GROUP, "kind": "ClusterTrainingRuntime", "name": RUNTIMES[framework]},
        "trainer": trainer,
    }
    pod = _pod_patch(cluster, framework)
    if pod:
        replicated = {"name": NODE, "template": {"spec": {"template": {"spec": pod}}}}
        spec["runtimePatches"] = [
            {
                "manager": PATCH_MANAGER,
                "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [replicated]}}},
            }
        ]
    labels = {
        "app.kubernetes.io/part-of": "crosstrain",
        "crosstrain.io/task": re.sub(r"[^A-Za-z0-9_.-]", "-", task),
        "crosstrain.io/framework": framework.value,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "TrainJob",
        "metadata": {"name": name, "namespace": cluster.namespace, "labels": labels},
        "spec": spec,
    }


def condition(job: dict, kind: str) -> dict | None:
    """The TrainJob's condition of type `kind` (Complete, Failed, ...) when its status is True."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def describe(job: dict) -> str:
    """One status line: the true conditions and the child Jobs' counts."""
    status = job.get("status") or {}
    conds = [
        f"{c['type']}({c.get('reason', '')})"
        for c in status.get("conditions") or []
        if c.get("status") == "True"
    ] or ["Pending"]
    jobs = [
        f"{j.get('name')}: {j.get('active', 0)} active, {j.get('succeeded', 0)} succeeded, "
        f"{j.get('failed', 0)} failed"
        for j in status.get("jobsStatus") or []
    ]
    return " ".join(conds) + (f" [{'; '.join(jobs)}]" if jobs else "")


class TrainJobs:
    """TrainJobs of one namespace through the Kubernetes API (the `kubernetes` client)."""

    def __init__(self, namespace: str, api_client: Any = None) -> None:
        from kubernetes import client, config

        if api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api_client = client.ApiClient()
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def create(self, job: dict) -> dict:
        """Submit a TrainJob manifest."""
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, job)

    def get(self, name: str) -> dict:
        """The TrainJob as the API server has it now."""
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def delete(self, name: str) -> None:
        """Delete the TrainJob; its JobSet, Jobs and pods go with it (background propagation)."""
        self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, propagation_policy="Background"
        )

    def failure_logs(self, name: str, lines: int = LOG_LINES) -> str:
        """The last `lines` log lines of the TrainJob's failed pods (of all its pods when none failed)."""
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"{JOBSET_LABEL}={name}").items
        failed = [p for p in pods if p.status and p.status.phase == "Failed"] or pods
        parts = []
        for pod in sorted(failed, key=lambda p: p.metadata.name):
            try:
                text = self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace, tail_lines=lines)
            except Exception as err:  # a missing log must not hide the job's failure
                text = f"(no log: {err})"
            parts.append(f"--- pod {pod.metadata.name} (last {lines} lines) ---\n{text.rstrip()}")
        return "\n".join(parts) or "(no pods found)"

    def wait(
        self,
        name: str,
        timeout_s: float,
        poll_s: float,
        report: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict:
        """Poll until the TrainJob completes; report each status change; raise TrainJobFailed on failure."""
        deadline, last = time.monotonic() + timeout_s, None
        while True:
            job = self.get(name)
            line = describe(job)
            if line != last:
                report(f"TrainJob {self.namespace}/{name}: {line}")
                last = line
            if condition(job, "Complete"):
                return job
            failed = condition(job, "Failed")
            if failed:
                raise TrainJobFailed(
                    f"TrainJob {self.namespace}/{name} failed: {failed.get('reason', '')} "
                    f"{failed.get('message', '')}\n{self.failure_logs(name)}"
                )
            if time.monotonic() >= deadline:
                raise TrainJobFailed(
                    f"TrainJob {self.namespace}/{name} did not finish in {timeout_s:g}s ({line})\n"
                    f"{self.failure_logs(name)}"
                )
            sleep(poll_s)
