"""Execution modes: every mode trains and predicts in both frameworks; `crosstrain measure` end to end.

    .venv/bin/python -m pytest tests/perf/test_modes.py -q               # -m "not slow" skips torch.compile
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from crosstrain import backends, names
from crosstrain.config import MODES, CNNSpec, MLPSpec, Settings, TrainConfig, parse_mode
from crosstrain.models.spec import initial_weights

TABLE_META = {"modality": "table", "classes": ["a", "b", "c"], "features": ["f1", "f2", "f3", "f4"],
              "feature_mean": [5.8, 3.0, 3.7, 1.2], "feature_std": [0.8, 0.4, 1.7, 0.7]}
IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [12, 12, 1]}
FRAMEWORKS = ("tensorflow", "pytorch")
MLP, CNN = MLPSpec(hidden=[16]), CNNSpec(widths=[4, 8], dense=8, dropout=0.0, batch_norm=True)


def data(spec):
    rng = np.random.default_rng(0)
    if spec is MLP:
        x = (rng.normal(size=(16, 4)) * 0.8 + 4.0).astype(np.float32)
        return TABLE_META, x, rng.integers(0, 3, 16).astype(np.int64)
    x = rng.random((16, 12, 12, 1)).astype(np.float32)
    return IMAGE_META, x, rng.integers(0, 10, 16).astype(np.int64)


def train_briefly(framework: str, spec, mode: str, steps: int = 3):
    """(losses, model, predict in that mode) after `steps` updates from the neutral initial weights."""
    execution, precision = parse_mode(mode)
    backend = backends.get(framework)
    backend.configure(1, 0)
    meta, x, y = data(spec)
    model = backend.build_model(spec, meta, precision=precision)
    backend.set_weights(model, initial_weights(spec, meta, 0))
    step = backend.make_train_step(model, TrainConfig(execution=execution, precision=precision), x[:1])
    losses = [float(step(x[i : i + 8], y[i : i + 8])) for i in (0, 8, 0)[:steps]]
    return losses, model, backend.make_predict(model, execution=execution), x


def mode_param(mode: str):
    return pytest.param(mode, marks=pytest.mark.slow) if mode.startswith("compiled") else mode


@pytest.mark.parametrize("mode", [mode_param(m) for m in MODES])
@pytest.mark.parametrize("spec", [MLP, CNN], ids=["mlp", "cnn"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_mode_trains_and_predicts_float32(framework, spec, mode):
    # given the iris MLP or a small images CNN, when it trains three steps in the mode
    losses, model, predict, x = train_briefly(framework, spec, mode)
    logits = predict(x)
    # then the loss is finite and falls, and the mode's predict gives float32 logits of every row
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]
    assert logits.dtype == np.float32 and logits.shape == (len(x), len(data(spec)[0]["classes"]))
    # and the weights stay float32 (mixed precision keeps fp32 master weights)
    assert all(w.dtype == np.float32 for w in backends.get(framework).get_weights(model).values())


@pytest.mark.parametrize("spec", [MLP, CNN], ids=["mlp", "cnn"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_mixed_precision_is_close_to_fp32(framework, spec):
    # given the same weights and batches in fp32 and in mixed precision
    fp32, _, predict32, x = train_briefly(framework, spec, "eager-fp32")
    mixed, model, predict16, _ = train_briefly(framework, spec, "eager-mixed")
    # then the losses and logits agree to bf16's ~3 significant digits, not exactly
    np.testing.assert_allclose(mixed, fp32, rtol=0.02)
    assert backends.get(framework).precision_of(model) == "mixed"
    np.testing.assert_allclose(predict16(x), predict32(x), atol=0.15, rtol=0.05)
    assert not np.array_equal(predict16(x), predict32(x))


def test_mixed_build_leaves_the_global_keras_policy_alone():
    import keras

    from crosstrain.models import tf as tf_models

    # given a mixed Keras model built first, when an fp32 model is built next, then it is all float32
    tf_models.build_model(MLP, TABLE_META, precision="mixed")
    assert keras.config.dtype_policy().name == "float32"
    plain = tf_models.build_model(MLP, TABLE_META)
    assert tf_models.precision_of(plain) == "fp32"
    assert all(layer.dtype_policy.name == "float32" for layer in plain.layers)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_eager_fp32_is_the_step_crosstrain_always_ran(framework):
    # given the default TrainConfig, when the step is built, then no XLA, no torch.compile, no autocast
    backend = backends.get(framework)
    meta, x, _ = data(MLP)
    model = backend.build_model(MLP, meta)
    step = backend.make_train_step(model, TrainConfig(), x[:1])
    if framework == "pytorch":
        assert step.net is model and step.precision == "fp32"
    else:
        assert not step._step._jit_compile
    # and the precision the step trains in must be the one the model was built in
    from crosstrain.errors import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        backend.make_train_step(model, TrainConfig(precision="mixed"), x[:1])


def test_torch_mixed_model_keeps_its_precision_when_saved(tmp_path):
    from crosstrain.models import torch as torch_models

    model = torch_models.build_model(MLP, TABLE_META, precision="mixed")
    torch_models.save(model, tmp_path)
    assert torch_models.precision_of(torch_models.load(tmp_path)) == "mixed"


# --- measure_modes and the CLI --------------------------------------------------------------------

def measure_settings(tmp_path, modes, **extra) -> Settings:
    return Settings.model_validate({
        "tasks": {"iris": {}},
        "measure": {"modes": modes, "steps": 4, "warmup_steps": 1},
        "latency": {"calls": 5, "warmup": 2, "throughput_batch": 32, "throughput_repeats": 2},
        "mlflow": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "modes-test"},
        **extra,
    })


def mode_runs(tmp_path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=["modes-test"],
                              filter_string=f"tags.`{names.TAG_KIND}` = '{names.KIND_MODE}'")


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_measure_modes_writes_every_mode_and_one_run_each(framework, iris_prepared, tmp_path, monkeypatch):
    from crosstrain.perf import modes

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # given two fast modes (and XLA, which compiles in about a second) on iris
    wanted = ["eager-fp32", "eager-mixed"] + (["compiled-fp32"] if framework == "tensorflow" else [])
    out = tmp_path / "metrics" / "iris" / "modes" / f"{framework}.json"
    # when measured
    result = modes.measure_modes("iris", measure_settings(tmp_path, wanted), framework, iris_prepared, out)
    # then the file holds every mode with every metric, and each mode has its own tagged MLflow run
    from crosstrain.io import read_json

    assert read_json(out) == result
    assert [m["mode"] for m in result["modes"]] == wanted
    assert result["steps"] == 4 and result["warmup_steps"] == 1 and result["threads"] == 1
    for entry in result["modes"]:
        assert entry["supported"] is modes.cpu_bf16() or entry["precision"] == "fp32"
        for metric in modes.METRICS:
            assert entry[metric] is not None and np.isfinite(entry[metric]), (entry["mode"], metric)
        assert entry[names.STEP_TIME] > 0 and entry[names.COMPILE_TIME] >= 0
    # the same weights and first batch: fp32 modes start from the same loss
    first = {m["mode"]: m["loss_first"] for m in result["modes"]}
    if "compiled-fp32" in first:
        assert first["compiled-fp32"] == pytest.approx(first["eager-fp32"], rel=1e-5)
    runs = mode_runs(tmp_path)
    assert sorted(runs[f"tags.{names.TAG_MODE}"]) == sorted(wanted)
    assert set(runs["run_id"]) == {m["run_id"] for m in result["modes"]}
    assert set(runs[f"tags.{names.TAG_FRAMEWORK}"]) == {framework}
    assert set(runs["params.threads"]) == {"1"}


@pytest.mark.slow
def test_a_failing_mode_is_recorded_not_raised(iris_prepared, tmp_path, monkeypatch):
    from crosstrain.perf import modes

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    real = modes.measure_mode

    def flaky(task, settings, framework, meta, splits, mode):
        if mode == "compiled-fp32":
            raise RuntimeError("XLA cannot compile op Foo\nlong trace")
        return real(task, settings, framework, meta, splits, mode)

    # given a mode that fails and a CPU that only emulates bf16
    monkeypatch.setattr(modes, "measure_mode", flaky)
    monkeypatch.setattr(modes, "cpu_bf16", lambda: False)
    settings = measure_settings(tmp_path, ["eager-fp32", "compiled-fp32", "eager-mixed"])
    result = modes.measure_modes("iris", settings, "pytorch", iris_prepared, tmp_path / "out.json")
    eager, compiled, mixed = result["modes"]
    # then the failure is a finding with its reason, and emulated bf16 is timed but flagged
    assert eager["supported"] and eager["reason"] is None
    assert not compiled["supported"] and compiled["reason"] == "RuntimeError: XLA cannot compile op Foo"
    assert all(compiled[m] is None for m in modes.METRICS) and compiled["run_id"]
    assert not mixed["supported"] and "emulated" in mixed["reason"] and mixed[names.STEP_TIME] > 0
    assert len(mode_runs(tmp_path)) == 3


@pytest.mark.slow
def test_cli_measure(iris_prepared, tmp_path, monkeypatch, capsys, repo_root):
    from crosstrain.cli.main import main

    # given a project with iris prepared
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    shutil.copytree(iris_prepared, tmp_path / "data" / "prepared" / "iris")
    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    # when `crosstrain measure` runs with the store and sizes overridden
    code = main(["measure", "--task", "iris", "--framework", "tensorflow",
                 "--set", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
                 "--set", "mlflow.experiment=modes-test", "--set", "measure.modes=[eager-fp32, eager-mixed]",
                 "--set", "measure.steps=3", "--set", "latency.calls=5",
                 "--set", "latency.throughput_batch=16"])
    # then it prints one line per mode and writes metrics/iris/modes/tensorflow.json
    assert code == 0
    printed = capsys.readouterr().out
    assert "eager-fp32: compile" in printed and "eager-mixed: compile" in printed
    assert (tmp_path / "metrics" / "iris" / "modes" / "tensorflow.json").exists()
    assert len(mode_runs(tmp_path)) == 2
