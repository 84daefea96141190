"""k8s/trainer/: renders, validates (Trainer v1alpha1 for the runtime, Kubernetes 1.30 strict for the rest),
follows the pod rules of tests/k8s, and gives the pods the variables crosstrain.kube.tf_config reads.

checkov scans it with the other kustomizations (tests/k8s/test_checkov.py, `make scan`).

.venv/bin/python -m pytest tests/kube/test_trainer_manifests.py -q
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from crosstrain.kube import tf_config, trainjob

TRAINER = Path(__file__).resolve().parents[2] / "k8s" / "trainer"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")


@pytest.fixture(scope="module")
def objects() -> dict[str, dict]:
    out = subprocess.run(["kubectl", "kustomize", str(TRAINER)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out.stdout) if doc}


@pytest.fixture(scope="module")
def pod(objects) -> dict:
    (node,) = objects["ClusterTrainingRuntime"]["spec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == trainjob.NODE
    return node["template"]["spec"]["template"]["spec"]


def test_renders_the_tensorflow_runtime_and_the_launchers_rights(objects):
    assert set(objects) == {"ClusterTrainingRuntime", "Role", "RoleBinding"}
    runtime = objects["ClusterTrainingRuntime"]
    assert runtime["metadata"]["name"] == trainjob.RUNTIMES["tensorflow"]
    assert runtime["spec"]["mlPolicy"] == {"numNodes": 1}  # plain ML policy: no framework plugin
    rules = {
        (g, r): set(rule["verbs"])
        for rule in objects["Role"]["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert {"create", "get", "delete"} <= rules[(trainjob.GROUP, trainjob.PLURAL)]
    assert "get" in rules[("", "pods/log")]


def test_runtime_validates_against_the_trainer_v1alpha1_models(objects):
    models = pytest.importorskip("kubeflow_trainer_api.models", reason="pip install kubeflow (Trainer SDK)")
    runtime = objects["ClusterTrainingRuntime"]
    assert models.TrainerV1alpha1ClusterTrainingRuntime.from_dict(runtime).to_dict() == runtime


def test_rbac_validates_against_kubernetes_1_30_strict(objects):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for kind in ("Role", "RoleBinding"):
        kubernetes_validate.validate(objects[kind], "1.30.0", strict=True)


def test_pods_are_non_root_read_only_sized_and_pinned(pod):
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(
        container["resources"]["limits"]
    )
    assert ":" in container["image"].rsplit("/", 1)[-1] and not container["image"].endswith(":latest")


def test_pods_get_what_tf_config_needs(pod):
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    labels = {
        name: env[name]["valueFrom"]["fieldRef"]["fieldPath"]
        for name in ("JOBSET_NAME", "REPLICATED_JOB_NAME", "JOB_INDEX")
    }
    assert labels["JOBSET_NAME"] == "metadata.labels['jobset.sigs.k8s.io/jobset-name']"
    port = int(env["CROSSTRAIN_TF_PORT"]["value"])
    assert port == tf_config.DEFAULT_PORT and container["ports"][0]["containerPort"] == port
    assert container["command"][:3] == ["python", "-m", "crosstrain.kube.tf_entrypoint"]
