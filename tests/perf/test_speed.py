"""`crosstrain speed`: both frameworks alternately (ABBA), each measurement in a fresh process.

    .venv/bin/python -m pytest tests/perf/test_speed.py -q
"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
import yaml

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import Settings
from crosstrain.errors import CrosstrainError
from crosstrain.layout import Layout
from crosstrain.perf import speed

# Tiny: iris, 2 rounds of 3 timed steps after 1 discarded, a few latency calls.
PARAMS = {
    "seeds": [0],
    "frameworks": ["tensorflow", "pytorch"],
    "train": {"batch_size": 16},
    "speed": {"rounds": 2, "steps": 3, "warmup_steps": 1},
    "latency": {"calls": 5, "warmup": 1, "throughput_batch": 16, "throughput_repeats": 1},
}
TOP = {"task", "mode", "threads", "steps", "warmup_steps", "seed", "order", "measurements"}
MEASUREMENT = {"round", "position", "framework", "pid", *speed.FIGURES}


@pytest.fixture(scope="module")
def measured(iris_prepared, tmp_path_factory):
    """(result, the written file) of the real step on iris: 4 child processes."""
    out = tmp_path_factory.mktemp("speed") / "speed.json"
    return speed.speed("iris", Settings.model_validate(PARAMS), iris_prepared, out), out


@pytest.mark.slow
def test_writes_the_schema_the_verdicts_read(measured):
    result, out = measured
    # then the file holds exactly the returned result, with exactly the agreed fields
    assert json.loads(out.read_text()) == result
    assert set(result) == TOP
    assert (result["task"], result["mode"], result["threads"], result["seed"]) == ("iris", "eager-fp32", 1, 0)
    assert (result["steps"], result["warmup_steps"]) == (3, 1)
    for m in result["measurements"]:
        assert set(m) == MEASUREMENT
        # and every figure is a positive number (compile time may be 0: first step no slower than the median)
        assert all(isinstance(m[name], float) and math.isfinite(m[name]) for name in speed.FIGURES)
        assert min(m[names.STEP_TIME], m[names.LATENCY_P50], m[names.PEAK_RSS], m[names.THROUGHPUT]) > 0
        assert m[names.LATENCY_P95] >= m[names.LATENCY_P50] and m[names.PEAK_RSS] >= m[names.TRAIN_RSS] >= 0


@pytest.mark.slow
def test_frameworks_alternate_abba_and_the_order_is_recorded(measured):
    result, _ = measured
    assert result["order"] == ["tensorflow", "pytorch", "pytorch", "tensorflow"]
    assert [(m["round"], m["position"], m["framework"]) for m in result["measurements"]] == [
        (0, 0, "tensorflow"), (0, 1, "pytorch"), (1, 0, "pytorch"), (1, 1, "tensorflow")]


@pytest.mark.slow
def test_each_measurement_ran_in_its_own_fresh_process(measured):
    pids = [m["pid"] for m in measured[0]["measurements"]]
    assert os.getpid() not in pids
    assert len(set(pids)) == len(pids)


@pytest.mark.parametrize(("frameworks", "rounds", "order"), [
    (["tensorflow", "pytorch"], 4, ["tensorflow", "pytorch", "pytorch", "tensorflow"] * 2),
    (["pytorch", "tensorflow"], 2, ["pytorch", "tensorflow", "tensorflow", "pytorch"]),
    (["pytorch"], 3, ["pytorch"] * 3),
])
def test_round_order(frameworks, rounds, order):
    assert [fw for r in range(rounds) for fw in speed.round_order(frameworks, r)] == order


def test_children_get_the_environment_without_mlflow_and_launcher_variables():
    env = {"PATH": "/bin", "OMP_NUM_THREADS": "1", "MLFLOW_RUN_ID": "abc", "MLFLOW_TRACKING_URI": "sqlite:///x",
           "TF_CONFIG": "{}", "RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "TORCHELASTIC_RUN_ID": "r"}
    assert speed.child_env(env) == {"PATH": "/bin", "OMP_NUM_THREADS": "1"}


def test_latency_calls_are_capped():
    cfg = Settings().latency
    assert speed.latency_config(cfg).calls == min(cfg.calls, speed.LATENCY_CALLS) < cfg.calls
    assert speed.latency_config(cfg).model_copy(update={"calls": cfg.calls}) == cfg


@pytest.mark.slow
def test_a_failing_child_is_one_line_naming_it_and_writes_nothing(iris_prepared, tmp_path, monkeypatch,
                                                                 capsys):
    # given a project with prepared iris whose training split turns corrupt after the first measurement
    prepared = Layout(tmp_path).prepared("iris")
    shutil.copytree(iris_prepared, prepared)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**PARAMS, "frameworks": ["pytorch"]}))
    real, calls = speed._measure_in_child, []

    def corrupt_after_the_first(*args, **kwargs):
        if calls:
            (prepared / "train.parquet").write_bytes(b"not parquet")
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(speed, "_measure_in_child", corrupt_after_the_first)
    monkeypatch.chdir(tmp_path)
    # when `crosstrain speed` runs
    code = main(["speed", "--task", "iris", "--params", str(params)])
    # then it exits non-zero: one line naming task, round and framework, then the child's last stderr lines
    progress, *err = capsys.readouterr().err.strip().splitlines()
    assert code == CrosstrainError.exit_code and len(calls) == 2
    assert progress.startswith("speed iris r1/2 pytorch: ") and "ms/step" in progress
    assert err[0].startswith("crosstrain: error: speed iris r2/2 pytorch: the measurement process failed")
    assert any("parquet" in line.lower() for line in err[1:])
    assert all(line.startswith("    ") for line in err[1:])
    assert len(err) <= 1 + speed.STDERR_LINES
    # and no speed.json was written, not even the first round's
    assert not Layout(tmp_path).speed("iris").exists()
