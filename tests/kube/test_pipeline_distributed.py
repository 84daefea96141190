"""With `cluster.distributed.workers > 1` the pipeline's train steps launch TrainJobs from crosstrain-base.

.venv/bin/python -m pytest tests/kube/test_pipeline_distributed.py -q
"""

from __future__ import annotations

import yaml
from pipelines import pipeline as p

from crosstrain.config import Settings

PARAMS = {
    "cluster": {
        "distributed": {"workers": 4},
        "gpu": {"count": 2, "node_selector": {"pool": "gpu"}},
        "images": {"registry": "registry.example.com/ml", "tag": "v9"},
    }
}


def test_train_steps_become_cpu_launchers_with_mlflow_credentials(tmp_path):
    # Given params asking for 4 training nodes of 2 GPUs
    path = p.compile_to(Settings.model_validate(PARAMS), tmp_path / "p.yaml")
    docs = list(yaml.safe_load_all(path.read_text()))
    spec, k8s = docs[0], docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    train = {
        name: e["container"]
        for name, e in spec["deploymentSpec"]["executors"].items()
        if name.startswith("exec-train")
    }
    # Then both frameworks' train steps run the launcher in crosstrain-base, with no accelerator or GPU nodes
    assert len(train) == 2
    for name, container in train.items():
        assert container["image"] == "registry.example.com/ml/crosstrain-base:v9"
        assert "accelerator" not in container.get("resources", {})
        assert "train_distributed" in " ".join(container["command"] + container.get("args", []))
        assert "nodeSelector" not in k8s[name] and "tolerations" not in k8s[name]
        # And it keeps the MLflow credentials: the inputs and the model are staged through MLflow
        assert {s["secretName"] for s in k8s[name]["secretAsEnv"]} == {
            "crosstrain-mlflow-client",
            "crosstrain-object-store",
        }


def test_evaluate_and_export_read_the_launchers_model(tmp_path):
    # Given distributed training, the later steps take the launcher's output (every seed, from worker 0)
    spec = yaml.safe_load_all(p.compile_to(Settings.model_validate(PARAMS), tmp_path / "p.yaml").read_text())
    spec = next(spec)
    loop = next(t for t in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in t)
    body = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    for step in ("evaluate", "export", "evaluate-2", "export-2"):
        producer = body[step]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]["producerTask"]
        assert producer.startswith("train")
        assert body[producer]["componentRef"]["name"].startswith("comp-train-distributed")
