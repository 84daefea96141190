"""Each component on tiny real data: `.python_func` directly (unit), and through kfp.local (local).

Training, evaluation and registration run end to end in test_pipeline_local.py; here the fast steps
and the failures each component must surface.

.venv/bin/python -m pytest tests/kfp/test_components.py -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import components as c
import pandas as pd
import pytest
import yaml

from crosstrain.errors import ConfigError, DataValidationError, MissingInputError
from crosstrain.kfp_support import steps


def artifact(path: Path) -> SimpleNamespace:
    """What a component sees of an artifact: a local `.path` and a `.metadata` dict (and metric loggers)."""
    art = SimpleNamespace(path=str(path), metadata={})
    art.log_metric = lambda name, value: art.metadata.__setitem__(name, value)
    return art


def test_every_component_runs_in_a_crosstrain_image_without_installing_kfp():
    for component in (
        c.configure,
        c.ingest,
        c.validate,
        c.reference,
        c.train,
        c.measure,
        c.speed,
        c.evaluate,
        c.export,
        c.register,
        c.gather,
        c.report,
    ):
        container = component.component_spec.implementation.container
        assert "/crosstrain-" in container.image and ":" in container.image
        assert "pip install" not in " ".join(container.command)


def test_configure_applies_typed_parameters_and_validates(params_text):
    # When the pipeline's typed parameters override the params text
    text = c.configure.python_func(
        params=params_text, seed=7, epochs=3, mlflow_tracking_uri="http://mlflow:5000", mlflow_experiment=""
    )
    # Then the result is valid params with those values; an empty experiment keeps params'
    cfg = steps.load(text)
    assert (cfg.seed, cfg.train.epochs, cfg.mlflow.tracking_uri, cfg.mlflow.experiment) == (
        7,
        3,
        "http://mlflow:5000",
        "crosstrain",
    )


def test_configure_rejects_bad_params_naming_the_field(params_text):
    bad = yaml.safe_dump({**yaml.safe_load(params_text), "train": {"batch_size": "many"}})
    with pytest.raises(ConfigError, match="train.batch_size"):
        c.configure.python_func(params=bad, seed=1, epochs=1, mlflow_tracking_uri="", mlflow_experiment="")


def test_ingest_then_validate_unit(params_text, tmp_path):
    # Given iris ingested by the component
    prepared = artifact(tmp_path / "prepared")
    c.ingest.python_func(params=params_text, task="iris", prepared=prepared)
    assert prepared.metadata["rows"]["train"] == 40 and len(prepared.metadata["digest"]) == 64
    # When the validate component checks it
    report, docs, summary = (
        artifact(tmp_path / "report"),
        artifact(tmp_path / "docs.html"),
        artifact(tmp_path / "s"),
    )
    c.validate.python_func(prepared=prepared, report=report, data_docs=docs, summary=summary)
    # Then every expectation passed and the report and its HTML page exist
    assert summary.metadata["expectations_failed"] == 0 and summary.metadata["expectations_evaluated"] > 0
    assert json.loads((tmp_path / "report" / "validation.json").read_text())["success"]
    assert "<html" in (tmp_path / "docs.html").read_text().lower()


def test_validate_unit_fails_on_bad_data(iris_prepared, tmp_path):
    # Given prepared iris with a missing feature value in train
    bad = tmp_path / "bad"
    shutil.copytree(iris_prepared, bad)
    frame = pd.read_parquet(bad / "train.parquet")
    frame.iloc[0, 0] = float("nan")
    frame.to_parquet(bad / "train.parquet")
    # Then the component raises the validation error, and writes no report
    with pytest.raises(DataValidationError, match="validation failed"):
        c.validate.python_func(
            prepared=artifact(bad),
            report=artifact(tmp_path / "r"),
            data_docs=artifact(tmp_path / "d.html"),
            summary=artifact(tmp_path / "s"),
        )
    assert not (tmp_path / "r").exists()


def test_reference_unit_scores_the_split_and_logs_kfp_metrics(params_text, iris_prepared, tmp_path,
                                                             mlflow_store):
    # When the reference component runs on prepared iris
    metrics = artifact(tmp_path / "reference.json")
    c.reference.python_func(params=params_text, task="iris", prepared=artifact(iris_prepared),
                            metrics=metrics)
    # Then the reference JSON is written, and its headline figures are KFP metrics
    result = json.loads(Path(metrics.path).read_text())
    assert metrics.metadata["test_accuracy"] == result["test_accuracy"] > 0.5
    assert metrics.metadata["model"] == result["description"] and result["run_id"]


def test_register_unit_without_models_registers_nothing(params_text, tmp_path, mlflow_store):
    with pytest.raises(MissingInputError, match="no evaluated model"):
        c.register.python_func(params=params_text, task="iris", registry=artifact(tmp_path / "r.json"))
    assert not (tmp_path / "r.json").exists()


def test_ingest_through_kfp_local(params_text, tmp_path, monkeypatch):
    # kfp.local runs the component as the cluster would: a subprocess executing the component's source
    from kfp import local

    monkeypatch.chdir(tmp_path)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    with pytest.warns(RuntimeWarning, match="non-Python base image"):
        task = c.ingest(params=params_text, task="iris")
    prepared = Path(task.outputs["prepared"].path)
    assert json.loads((prepared / "meta.json").read_text())["rows"]["train"] == 40
    assert task.outputs["prepared"].metadata["task"] == "iris"


def test_gather_lays_one_tasks_outputs_out_as_a_crosstrain_project(tmp_path):
    # Given PyTorch's evaluate, measure and export outputs and register's registry.json (no TensorFlow branch)
    files = {name: tmp_path / name for name in ("metrics", "modes", "onnx", "registry", "speed")}
    for name, path in files.items():
        path.write_text(json.dumps({"kind": name}))
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "history.csv").write_text("seed,epoch\n0,1\n")
    results = artifact(tmp_path / "results")
    # When gather copies them
    c.gather.python_func(
        task="iris",
        results=results,
        registry=artifact(files["registry"]),
        pytorch_metrics=artifact(files["metrics"]),
        pytorch_plots=artifact(plots),
        pytorch_modes=artifact(files["modes"]),
        pytorch_onnx=artifact(files["onnx"]),
        speed=artifact(files["speed"]),
    )
    # Then they sit where crosstrain.layout puts them, and the absent framework is simply absent
    from crosstrain.layout import Layout

    layout = Layout(tmp_path / "results")
    assert json.loads(layout.metrics("iris", "pytorch").read_text()) == {"kind": "metrics"}
    assert json.loads(layout.modes("iris", "pytorch").read_text()) == {"kind": "modes"}
    assert json.loads(layout.onnx("iris", "pytorch").read_text()) == {"kind": "onnx"}
    assert json.loads(layout.registry("iris").read_text()) == {"kind": "registry"}
    assert json.loads(layout.speed("iris").read_text()) == {"kind": "speed"}
    assert (layout.plots("iris", "pytorch") / "history.csv").read_text().startswith("seed,epoch")
    assert not layout.metrics("iris", "tensorflow").exists()
    assert results.metadata["task"] == "iris" and len(results.metadata["files"]) == 6


@pytest.mark.slow
def test_speed_unit_alternates_fresh_processes_and_logs_medians(params_text, iris_prepared, tmp_path):
    # Given PyTorch only (one framework: it is measured alone, once per round)
    params = json.dumps({**json.loads(params_text), "frameworks": ["pytorch"]})
    timings = artifact(tmp_path / "speed.json")
    # When the speed component runs on prepared iris
    c.speed.python_func(params=params, task="iris", prepared=artifact(iris_prepared), timings=timings)
    # Then speed.json holds each round's measurement, and the medians are KFP metrics
    result = json.loads(Path(timings.path).read_text())
    assert result["order"] == ["pytorch", "pytorch"] == timings.metadata["order"]
    assert len({m["pid"] for m in result["measurements"]}) == 2
    assert timings.metadata["pytorch.step_time_ms"] > 0 and "tensorflow.step_time_ms" not in timings.metadata


def test_report_unit_without_any_task_writes_nothing(params_text, tmp_path, mlflow_store):
    outs = {name: artifact(tmp_path / name) for name in ("html", "markdown", "comparison", "curves")}
    with pytest.raises(MissingInputError, match="no task's outputs"):
        c.report.python_func(params=params_text, tasks=[artifact(tmp_path / "empty")], **outs)
    assert not any(Path(a.path).exists() for a in outs.values())
