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
