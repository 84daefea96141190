"""`crosstrain pipeline run --local`: the whole DAG under kfp.local, here, on a temporary MLflow store.

kfp.local's SubprocessRunner runs every component as the cluster would (a subprocess executing the
component's own source), only without images, GPUs or Kubernetes placement.

.venv/bin/python -m pytest tests/kfp/test_pipeline_local.py -q        # a few minutes on 2 CPU cores
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris

from crosstrain import names
from crosstrain.errors import ConfigError, DataValidationError


@pytest.mark.slow
def test_local_run_trains_measures_exports_registers_and_reports(
    cli, small_params, mlflow_store, tmp_path, monkeypatch, capsys
):
    # Given small params (iris, 40 rows, one seed, one epoch), a temp working dir and an empty sqlite store
    monkeypatch.chdir(tmp_path)
    # When the whole pipeline runs under kfp.local
    code = cli(
        [
            "pipeline",
            "run",
            "--local",
            "--params",
            str(small_params),
            "--pipeline-root",
            str(tmp_path / "root"),
        ]
    )
    # Then every step succeeded
    assert code == 0, capsys.readouterr().err[-3000:]
    assert "all steps succeeded for iris" in capsys.readouterr().out
    # And the store holds one evaluated and exported training run per framework, one mode run each,
    # and the report's parent run over all of them
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("crosstrain").experiment_id])
    kinds = {
        kind: [r for r in runs if r.data.tags.get(names.TAG_KIND) == kind]
        for kind in (names.KIND_TRAINING, names.KIND_MODE, names.KIND_REFERENCE, names.KIND_COMPARISON)
    }
    assert len(runs) == sum(len(v) for v in kinds.values())
    # And the task's classical reference: one run, nested under the comparison like the others
    (reference,) = kinds[names.KIND_REFERENCE]
    assert reference.data.tags[names.TAG_FRAMEWORK] == names.REFERENCE_FRAMEWORK
    assert names.TEST_ACCURACY in reference.data.metrics
    training, modes, (parent,) = (
        kinds[names.KIND_TRAINING],
        kinds[names.KIND_MODE],
        kinds[names.KIND_COMPARISON],
    )
    assert sorted((r.data.tags[names.TAG_TASK], r.data.tags[names.TAG_FRAMEWORK]) for r in training) == [
        ("iris", "pytorch"),
        ("iris", "tensorflow"),
    ]
    assert all({names.TEST_ACCURACY, names.ONNX_MAX_ABS_DIFF} <= set(r.data.metrics) for r in training)
    assert sorted((r.data.tags[names.TAG_FRAMEWORK], r.data.tags[names.TAG_MODE]) for r in modes) == [
        ("pytorch", "eager-fp32"),
        ("tensorflow", "eager-fp32"),
    ]
    assert {r.data.tags[names.TAG_PARENT] for r in [*training, *modes, reference]} == {parent.info.run_id}
    # And the registered model with its champion
    model = client.get_registered_model(names.registered_model_name("iris"))
    assert {"tensorflow", "pytorch", names.CHAMPION_ALIAS} <= set(model.aliases)
    # And the report's HTML, Markdown and JSON artifacts, naming the parent run and both frameworks
    (html,) = (tmp_path / "root").glob("*/report/html")
    text = html.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and "iris" in text
    assert "iris" in (html.parent / "markdown").read_text()
    comparison = json.loads((html.parent / "comparison").read_text())
    assert comparison["parent_run_id"] == parent.info.run_id
    assert set(comparison["results"]["iris"]["frameworks"]) == {"tensorflow", "pytorch"}
    assert comparison["results"]["iris"]["reference"]["run_id"] == reference.info.run_id
    assert {p.name for p in (html.parent / "curves" / "iris").iterdir()} == {"tensorflow.csv", "pytorch.csv"}


@pytest.mark.slow
def test_local_run_stops_at_a_failed_validation_with_its_summary(
    cli, tmp_path, mlflow_store, monkeypatch, capsys
):
    # Given a table source whose feature column has missing values
    monkeypatch.chdir(tmp_path)
    iris = load_iris(as_frame=True).frame
    iris.loc[::5, "sepal length (cm)"] = np.nan
    iris.to_csv(tmp_path / "iris.csv", index=False)
    params = {
        "frameworks": ["pytorch"],
        "train": {"epochs": 1},
        "tasks": {
            "holey": {
                "source": {"kind": "table", "path": str(tmp_path / "iris.csv"), "label_column": "target"}
            }
        },
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # When the pipeline runs locally
    code = cli(["pipeline", "run", "--local", "--pipeline-root", str(tmp_path / "root")])
    # Then it stops at validate with the failed expectations, and trains nothing
    err = capsys.readouterr().err
    assert code == DataValidationError.exit_code
    assert "stopped: validation failed" in err and "sepal length (cm)" in err
    assert not list((tmp_path / "root").glob("*/*/train*"))


def test_local_run_rejects_an_unknown_task(cli, small_params, capsys):
    assert (
        cli(["pipeline", "run", "--local", "--params", str(small_params), "--task", "nope"])
        == ConfigError.exit_code
    )
    assert "unknown task 'nope': params define iris" in capsys.readouterr().err
