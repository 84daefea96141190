"""The pipeline compiles, loads back with kfp, places training on GPU nodes from params, is committed current.

.venv/bin/python -m pytest tests/kfp/test_pipeline_compile.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kfp import components as kfp_components
from pipelines import pipeline as p

from crosstrain.config import Settings, load_settings
from crosstrain.errors import ConfigError

GPU_PARAMS = {
    "cluster": {
        "gpu": {
            "accelerator": "nvidia.com/gpu",
            "count": 2,
            "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "ml", "effect": "NoExecute"},
            ],
        },
        "resources": {
            "train": {"cpu_request": "3", "cpu_limit": "6", "memory_request": "12G", "memory_limit": "24G"}
        },
        "images": {"registry": "registry.example.com/ml", "tag": "v9"},
        "retries": 3,
    }
}


def _compiled(settings: Settings, tmp_path: Path) -> tuple[dict, dict]:
    """(pipeline spec, kubernetes platform spec) of a fresh compile."""
    docs = list(yaml.safe_load_all(p.compile_to(settings, tmp_path / "p.yaml").read_text()))
    return docs[0], docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def _executors(spec: dict) -> dict[str, dict]:
    return {name: e["container"] for name, e in spec["deploymentSpec"]["executors"].items()}


def test_compiles_and_loads_back_with_kfp(tmp_path):
    # Given the repository's params
    path = p.compile_to(load_settings(Path(p.__file__).parents[1] / "params.yaml"), tmp_path / "p.yaml")
    # When kfp loads the compiled YAML back
    loaded = kfp_components.load_component_from_file(str(path))
    # Then it is the comparison pipeline with the run-time parameters
    assert loaded.name == p.NAME
    assert set(loaded.component_spec.inputs) == {
        "params",
        "tasks",
        "seed",
        "epochs",
        "mlflow_tracking_uri",
        "mlflow_experiment",
        "dvc_repo",
        "dvc_rev",
        "data_digests",
    }


def test_training_tasks_carry_gpu_placement_from_params(tmp_path):
    # Given params asking for 2 L4 GPUs per training task, a taint to tolerate and a private registry
    spec, k8s = _compiled(Settings.model_validate(GPU_PARAMS), tmp_path)
    executors = _executors(spec)
    train = {name: c for name, c in executors.items() if name.startswith("exec-train")}
    # Then each framework's training has its own image, the accelerator and the sizes
    assert sorted(c["image"] for c in train.values()) == [
        "registry.example.com/ml/crosstrain-pytorch:v9",
        "registry.example.com/ml/crosstrain-tensorflow:v9",
    ]
    for name, container in train.items():
        res = container["resources"]
        assert (
            res["accelerator"]["resourceType"] == "nvidia.com/gpu"
            and res["accelerator"]["resourceCount"] == "2"
        )
        assert res["resourceCpuRequest"] == "3" and res["resourceMemoryLimit"] == "24G"
        # node selector and tolerations from params, credentials from Secrets
        assert k8s[name]["nodeSelector"]["labels"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
        assert [t["key"] for t in k8s[name]["tolerations"]] == ["nvidia.com/gpu", "dedicated"]
        assert {s["secretName"] for s in k8s[name]["secretAsEnv"]} == {
            "crosstrain-mlflow-client",
            "crosstrain-object-store",
        }
    # And only PyTorch gets a memory-backed /dev/shm
    shm = {name for name in train if k8s[name].get("emptyDirMounts")}
    assert [executors[n]["image"] for n in shm] == ["registry.example.com/ml/crosstrain-pytorch:v9"]
    assert k8s[shm.pop()]["emptyDirMounts"][0] == {
        "medium": "Memory",
        "mountPath": "/dev/shm",
        "sizeLimit": "2Gi",
        "volumeName": "dshm",
    }
    # And training is retried
    loop = next(t for t in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in t)
    body = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert {body[t]["retryPolicy"]["maxRetryCount"] for t in ("train", "train-2")} == {3}


def test_cpu_steps_never_request_a_gpu(tmp_path):
    spec, k8s = _compiled(Settings.model_validate(GPU_PARAMS), tmp_path)
    cpu = {n: c for n, c in _executors(spec).items() if not n.startswith("exec-train")}
    assert {n.removeprefix("exec-").rstrip("-2") for n in cpu} == {
        "configure",
        "ingest",
        "validate",
        "reference",
        "measure",
        "speed",
        "evaluate",
        "export",
        "register",
        "gather",
        "report",
    }
    for name, container in cpu.items():
        assert container["image"] == "registry.example.com/ml/crosstrain-base:v9"
        assert "accelerator" not in container["resources"]
        assert not {"nodeSelector", "tolerations", "emptyDirMounts"} & set(k8s.get(name, {}))


def test_each_task_measures_exports_registers_then_one_report_covers_every_task(tmp_path):
    # Given the default params (both frameworks)
    spec, k8s = _compiled(Settings(), tmp_path)
    root = spec["root"]["dag"]["tasks"]
    loop_name, loop = next((n, t) for n, t in root.items() if "parameterIterator" in t)
    body = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]

    def deps(task: str) -> set[str]:
        return set(body[task].get("dependentTasks", []))

    by_name = {t["taskInfo"]["name"]: n for n, t in body.items()}
    for fw in ("tensorflow", "pytorch"):
        train, measure, evaluate, export = (
            by_name[f"{step}-{fw}"] for step in ("train", "measure", "evaluate", "export")
        )
        # Then measure runs beside training, after validation; export after evaluate, on the trained model
        assert "validate" in deps(measure) and train not in deps(measure)
        assert {train, evaluate} <= deps(export)
        inputs = body[export]["inputs"]["artifacts"]
        assert inputs["model"]["taskOutputArtifact"] == {"outputArtifactKey": "model", "producerTask": train}
        # And register waits for every export; gather for register, measure and export
        assert {export, evaluate} <= deps("register")
        assert {"register", measure, export, evaluate} <= deps("gather")
    # And speed (both frameworks in one step) runs after validation, beside training, and feeds gather
    assert "validate" in deps("speed") and not any(t.startswith("train") for t in deps("speed"))
    assert body["gather"]["inputs"]["artifacts"]["speed"]["taskOutputArtifact"] == {
        "outputArtifactKey": "timings", "producerTask": "speed"}
    # And so does the classical reference, on the prepared data, with its own MLflow run's credentials
    assert "validate" in deps("reference") and not any(t.startswith("train") for t in deps("reference"))
    assert body["gather"]["inputs"]["artifacts"]["reference"]["taskOutputArtifact"] == {
        "outputArtifactKey": "metrics", "producerTask": "reference"}
    assert {s["secretName"] for s in k8s["exec-reference"]["secretAsEnv"]} == {
        "crosstrain-mlflow-client", "crosstrain-object-store"}
    # And the report runs once, outside the loop, on every task's gathered outputs (dsl.Collected)
    report = root["report"]
    assert loop_name in report["dependentTasks"]
    assert report["inputs"]["artifacts"]["tasks"]["taskOutputArtifact"]["producerTask"] == loop_name
    assert spec["components"][report["componentRef"]["name"]]["inputDefinitions"]["artifacts"]["tasks"][
        "isArtifactList"
    ]
    outputs = spec["components"][report["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
    assert outputs["html"]["artifactType"]["schemaTitle"] == "system.HTML"
    assert outputs["markdown"]["artifactType"]["schemaTitle"] == "system.Markdown"
    # And measure, export and report reach MLflow with the credentials from Secrets
    for executor in ("exec-measure", "exec-export", "exec-report"):
        assert {s["secretName"] for s in k8s[executor]["secretAsEnv"]} == {
            "crosstrain-mlflow-client",
            "crosstrain-object-store",
        }


def test_gpu_count_zero_trains_on_cpu(tmp_path):
    spec, k8s = _compiled(Settings.model_validate({"cluster": {"gpu": {"count": 0}}}), tmp_path)
    for name, container in _executors(spec).items():
        assert "accelerator" not in container["resources"], name
        assert "tolerations" not in k8s.get(name, {})


def test_one_framework_builds_one_branch(tmp_path):
    spec, _ = _compiled(Settings.model_validate({"frameworks": ["pytorch"]}), tmp_path)
    images = [c["image"] for n, c in _executors(spec).items() if n.startswith("exec-train")]
    assert images == ["ghcr.io/crosstrain/crosstrain-pytorch:0.1.0"]


def test_no_secret_values_in_the_yaml(tmp_path):
    # The compiled spec names Secrets; it never holds credentials
    text = p.compile_to(Settings(), tmp_path / "p.yaml").read_text()
    assert "MLFLOW_TRACKING_PASSWORD" in text
    for word in ("AWS_SECRET_ACCESS_KEY=", "password:", "minioadmin"):
        assert word not in text


def test_committed_yaml_is_current(repo_root, tmp_path, cli, monkeypatch):
    # The committed pipelines/compiled/crosstrain-comparison.yaml equals a fresh compile of params.yaml
    monkeypatch.chdir(repo_root)
    assert p.COMPILED.is_file(), "run `crosstrain pipeline compile` and commit the result"
    fresh = p.compile_to(load_settings(repo_root / "params.yaml"), tmp_path / "fresh.yaml").read_text()
    assert p.COMPILED.read_text() == fresh, "stale: run `crosstrain pipeline compile` and commit the result"
    assert cli(["pipeline", "compile", "--check"]) == 0


def test_compile_writes_the_file(cli, small_params, tmp_path, capsys):
    out = tmp_path / "out.yaml"
    assert cli(["pipeline", "compile", "--params", str(small_params), "--output", str(out)]) == 0
    assert out.is_file() and p.NAME in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "train.epochs=many"], "train.epochs: Input should be a valid integer"),
        (["--set", "cluster.gpu.count=-1"], "cluster.gpu.count"),
        (["--set", "cluster.gpu.tolerations=[{key: a, operator: Maybe}]"], "operator"),
        (["--set", "cluster.resources.train.memory_limit=lots"], "memory_limit"),
    ],
)
def test_compile_rejects_a_wrong_type_with_the_field(cli, small_params, tmp_path, capsys, args, message):
    code = cli(["pipeline", "compile", "--params", str(small_params), "-o", str(tmp_path / "x.yaml"), *args])
    assert code == ConfigError.exit_code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def test_unknown_task_fails_with_the_known_ones(small_params):
    with pytest.raises(ConfigError, match="unknown task 'nope': params define iris"):
        p.arguments(load_settings(small_params), ["nope"])
