"""k8s/: every kustomization renders, validates against Kubernetes 1.30 (strict), and follows the pod rules.

Rules: every pod non-root without privilege escalation, a read-only root filesystem, CPU and memory
requests and limits, probes on servers, pinned images, Secrets only as documented placeholders.

.venv/bin/python -m pytest tests/k8s -q
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "k8s"
KUSTOMIZATIONS = ["base", "overlays/local", "overlays/gpu"]
WORKLOADS = ("Deployment", "StatefulSet", "Job")
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")


def render(name: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / name)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def objects(request) -> list[dict]:
    return render(request.param)


def pods(objects: list[dict]) -> list[tuple[dict, dict]]:
    return [(o, o["spec"]["template"]["spec"]) for o in objects if o["kind"] in WORKLOADS]


def test_renders_the_services(objects):
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {
        ("Deployment", "mlflow"),
        ("StatefulSet", "postgres"),
        ("StatefulSet", "minio"),
        ("Job", "minio-create-bucket"),
        ("Service", "mlflow"),
        ("Role", "crosstrain-pipeline-runner"),
        ("Secret", "crosstrain-mlflow-client"),
        ("Secret", "crosstrain-object-store"),
    } <= names
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"crosstrain"}


def test_validates_against_kubernetes_1_30_strict(objects):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


def test_every_pod_is_non_root_read_only_and_sized(objects):
    for workload, spec in pods(objects):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name} {kind}"
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def test_servers_have_probes(objects):
    for workload, spec in pods(objects):
        if workload["kind"] in ("Deployment", "StatefulSet"):
            for container in spec["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, workload["metadata"][
                    "name"
                ]


def test_secrets_are_placeholders_from_the_generator(objects):
    import base64

    for secret in (o for o in objects if o["kind"] == "Secret"):
        values = [base64.b64decode(v).decode() for v in secret["data"].values()]
        assert any("CHANGE-ME" in v for v in values), secret["metadata"]["name"]


def test_mlflow_server_uses_postgres_minio_and_basic_auth():
    (mlflow,) = [o for o in render("base") if o["kind"] == "Deployment"]
    args = " ".join(mlflow["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--backend-store-uri=postgresql://" in args and "--artifacts-destination=s3://" in args
    assert "--app-name=basic-auth" in args


def test_local_overlay_is_small_and_gpu_overlay_keeps_servers_off_gpu_nodes():
    local = {o["metadata"]["name"]: o for o in render("overlays/local") if o["kind"] == "StatefulSet"}
    claim = local["postgres"]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert claim == "1Gi"
    gpu = render("overlays/gpu")
    assert any(o["kind"] == "ResourceQuota" for o in gpu)
    for workload, spec in pods(gpu):
        if workload["kind"] != "Job":
            terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            keys = {e["key"] for e in terms["nodeSelectorTerms"][0]["matchExpressions"]}
            assert "cloud.google.com/gke-accelerator" in keys and "k8s.amazonaws.com/accelerator" in keys


@pytest.mark.parametrize("cloud", ["gke", "eks"])
def test_gpu_params_examples_validate(cloud):
    from crosstrain.config import Settings

    cluster = yaml.safe_load((K8S / "overlays" / "gpu" / f"params.{cloud}.yaml").read_text())["cluster"]
    settings = Settings.model_validate({"cluster": cluster})
    assert settings.cluster.gpu.count == 1 and settings.cluster.gpu.node_selector


def test_basic_auth_config_matches_the_one_in_mlflow_dir():
    cluster_ini = K8S.parent / "mlflow" / "basic_auth.cluster.ini"
    generated = (K8S / "base" / "secrets" / "basic_auth.ini").read_text()
    assert generated.split("\n", 2)[2] == cluster_ini.read_text().split("\n", 2)[2]
