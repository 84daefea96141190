"""The export step end to end on real iris: a saved first-seed model and its MLflow training run in,
metrics/<task>/onnx/<fw>.json, onnx_* metrics and the .onnx artifact out; a too-tight tolerance fails
with a message naming the task, framework and difference; `onnx.enabled: false` only records that.

    .venv/bin/python -m pytest tests/export/test_onnx_export_step.py -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from crosstrain import backends, names, tracking
from crosstrain.config import Framework, MLPSpec, Settings
from crosstrain.data.dataset import load_meta
from crosstrain.export.step import OnnxParityError, export
from crosstrain.io import atomic_write_json, read_json
from crosstrain.models.spec import initial_weights

SPEC = MLPSpec(hidden=[16])
QUICK = {"seeds": [0], "latency": {"calls": 20, "warmup": 2, "throughput_batch": 32, "throughput_repeats": 2}}


def save_seed_model(framework: Framework, prepared: Path, model_dir: Path, settings: Settings | None,
                    scale: float = 1.0) -> str:
    """Save an iris MLP (the shared seed-0 weights times `scale`) as train would, with a real MLflow run
    (`settings` None: no run, for tests that stop before export logs anything)."""
    meta = load_meta(prepared)
    backend = backends.get(framework)
    model = backend.build_model(SPEC, meta)
    backend.set_weights(model, {k: v * scale for k, v in initial_weights(SPEC, meta, seed=0).items()})
    model_dir.mkdir(parents=True)
    backend.save(model, model_dir)
    run_id = "never-logged"
    if settings is not None:
        with tracking.tracker(settings.mlflow).start_run(run_name=f"iris-{framework}-seed-0",
                                                         tags={names.TAG_KIND: names.KIND_TRAINING},
                                                         params={}) as run_id:
            pass
    atomic_write_json(model_dir / names.TRAIN_INFO_FILE,
                      {"task": "iris", "framework": str(framework), "seed": 0, "run_id": run_id,
                       "data_digest": meta["digest"]})
    return run_id


@pytest.mark.slow
@pytest.mark.parametrize("framework", list(Framework), ids=str)
def test_export_writes_metrics_and_logs_to_the_training_run(framework, iris_prepared, mlflow_store, tmp_path):
    # given: a saved iris model of seed 0 and its training run
    settings = Settings.model_validate(QUICK)
    model_dir = tmp_path / "models" / "iris" / str(framework) / names.seed_dir(0)
    run_id = save_seed_model(framework, iris_prepared, model_dir, settings)
    out = tmp_path / "metrics" / "iris" / "onnx" / f"{framework}.json"

    # when: it is exported
    onnx_file = tmp_path / "iris.onnx"
    result = export("iris", settings, framework, model_dir, iris_prepared, out, onnx_file=onnx_file)

    # then: the json holds the spec's fields, within tolerance, and the run got the metrics and the file
    assert read_json(out) == result
    assert result["exported"] is True and result["reason"] is None
    assert [result[k] for k in ("task", "framework", "seed", "run_id")] == ["iris", str(framework), 0, run_id]
    assert result["opset"] == settings.onnx.opset
    assert 0 <= result[names.ONNX_MAX_ABS_DIFF] <= settings.onnx.atol
    for key in (names.ONNX_SIZE, *(names.ONNX_PREFIX + k for k in (
            names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT))):
        assert result[key] > 0, key
    assert result["native"][names.LATENCY_P50] > 0
    assert onnx_file.stat().st_size > 0

    import mlflow

    run = mlflow.get_run(run_id)
    assert run.data.metrics[names.ONNX_MAX_ABS_DIFF] == pytest.approx(result[names.ONNX_MAX_ABS_DIFF])
    assert run.data.metrics[names.ONNX_PREFIX + names.LATENCY_P50] == pytest.approx(
        result[names.ONNX_PREFIX + names.LATENCY_P50])
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "onnx")]
    assert artifacts == [f"onnx/iris-{framework}.onnx"]


def test_too_tight_tolerance_fails_clearly(iris_prepared, tmp_path):
    # given: large weights (so float rounding differs between runtimes) and a tolerance below float32 noise
    settings = Settings.model_validate({**QUICK, "onnx": {"atol": 1e-12}})
    model_dir = tmp_path / "model"
    # (TensorFlow: PyTorch and ONNX Runtime now round this MLP identically, bit for bit.)
    save_seed_model(Framework.TENSORFLOW, iris_prepared, model_dir, None, scale=50.0)
    out = tmp_path / "onnx.json"

    # when / then: the export fails naming task, framework and the difference, and writes nothing
    with pytest.raises(OnnxParityError,
                       match=r"ONNX export of iris/tensorflow .* differs from the native model "
                             r"by up to \S+ in the test logits, more than onnx.atol=1e-12"):
        export("iris", settings, Framework.TENSORFLOW, model_dir, iris_prepared, out)
    assert not out.exists()


def test_disabled_only_records_that(tmp_path):
    settings = Settings.model_validate({"onnx": {"enabled": False}})
    out = tmp_path / "onnx.json"
    result = export("iris", settings, Framework.TENSORFLOW, tmp_path / "absent", tmp_path / "absent", out)
    assert read_json(out) == result
    assert result == {
        "task": "iris", "framework": "tensorflow", "exported": False, "reason": "onnx.enabled is false"
    }


@pytest.mark.slow
def test_cli_prints_one_line(iris_prepared, mlflow_store, tmp_path, monkeypatch, capsys):
    # given: a project directory laid out as the pipeline leaves it
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(yaml.safe_dump(QUICK))
    shutil.copytree(iris_prepared, "data/prepared/iris")
    settings = Settings.model_validate(QUICK)
    model_dir = Path("models/iris/pytorch") / names.seed_dir(0)
    save_seed_model(Framework.PYTORCH, Path("data/prepared/iris"), model_dir, settings)

    # when
    from crosstrain.cli.main import main

    code = main(["export", "--task", "iris", "--framework", "pytorch"])

    # then
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 1
    assert lines[0].startswith("export iris/pytorch seed 0: max |ONNX - native| ")
    assert "p50 latency ONNX Runtime" in lines[0] and "vs native" in lines[0]
    assert Path("metrics/iris/onnx/pytorch.json").exists()
    assert np.isfinite(read_json("metrics/iris/onnx/pytorch.json")[names.ONNX_MAX_ABS_DIFF])


def test_a_converter_failure_is_recorded_not_raised(iris_prepared, tmp_path, monkeypatch):
    # given: a model whose converter fails
    import crosstrain.export.torch as torch_export

    def unsupported(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::foo\n(long exporter report)")

    monkeypatch.setattr(torch_export, "export_onnx", unsupported)
    settings = Settings.model_validate(QUICK)
    model_dir, out = tmp_path / "model", tmp_path / "onnx.json"
    run_id = save_seed_model(Framework.PYTORCH, iris_prepared, model_dir, None)

    # when
    result = export("iris", settings, Framework.PYTORCH, model_dir, iris_prepared, out)

    # then: the reason names the exporter and the error's first line
    assert result["exported"] is False and result["run_id"] == run_id
    assert result["reason"] == (
        "torch.onnx.export(dynamo=True) failed: RuntimeError: unsupported operator aten::foo"
    )
    assert read_json(out) == result


def test_mixed_precision_models_are_not_exported(iris_prepared, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    meta = load_meta(iris_prepared)
    atomic_write_json(model_dir / names.TRAIN_INFO_FILE, {"seed": 0, "run_id": "r", "mode": "eager-mixed",
                                                          "data_digest": meta["digest"]})
    out = tmp_path / "onnx.json"
    result = export("iris", Settings(), Framework.TENSORFLOW, model_dir, iris_prepared, out)
    assert result["exported"] is False
    assert result["reason"] == "trained in mixed precision: ONNX export and parity need fp32"
