"""End to end: `dvc repro` of the real pipeline in a temporary git + DVC copy of this repository.

Real DVC, real Great Expectations, real TensorFlow and PyTorch, a real sqlite MLflow store, the real
embedded data of every task: only the budget is small (a few hundred training examples, one or two
epochs, short text sequences, a narrow CNN).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crosstrain import names

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TASKS = ("iris", "images", "text")
SEEDS = (0, 1)
MODES = ("eager-fp32",)  # one timed mode: the modes themselves are tests/perf's; here, that they are tracked


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    # A new user's shell: the copy's own embedded MLflow store, and no launcher variables that would
    # make `crosstrain train` wait for distributed peers.
    leaks = ("MLFLOW_", "TF_CONFIG", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
             "TORCHELASTIC_", "CROSSTRAIN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory) -> Path:
    """A fresh git repository holding the tracked files of this one, with small params."""
    dest = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=repo_root, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = repo_root / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["tasks"]["iris"]["limit"] = 40
    params["train"]["epochs"] = 2
    params["seeds"] = list(SEEDS)
    params["measure"] = {"modes": list(MODES), "steps": 3, "warmup_steps": 1}
    params["latency"] = {"calls": 20, "warmup": 2, "throughput_batch": 32, "throughput_repeats": 2}
    # Two rounds (the least that gives an interval) of few steps: each is a fresh process per framework.
    params["speed"] = {"rounds": 2, "steps": 5, "warmup_steps": 1}
    params["report"] = {"confidence": 0.95, "bootstrap_samples": 500}
    small = {"images": {"limit": 300, "model": {"kind": "cnn", "widths": [8], "dense": None},
                        "train": {"epochs": 1, "batch_size": 64}},
             "text": {"limit": 300, "preprocess": {"text": {"vocab_size": 2000, "seq_len": 32}},
                      "model": {"kind": "bilstm", "embedding_dim": 16, "units": 8},
                      "train": {"epochs": 1, "batch_size": 64}}}
    for task, changes in small.items():
        params["tasks"][task].update(changes)
    for task in params["tasks"].values():
        task["min_score"] = 0.0  # a tiny budget: crown whichever framework is better
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for path in ("dvc.lock",):
        (dest / path).unlink(missing_ok=True)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], dest)
    return dest


@pytest.fixture(scope="module")
def repro(project) -> subprocess.CompletedProcess:
    return run([str(BIN / "dvc"), "repro"], project)


def test_repro_writes_both_frameworks_metrics(project, repro):
    # Given the small pipeline was reproduced once
    # Then every stage ran and each framework has test metrics from the same test split
    for task in TASKS:
        for stage in ("ingest", "validate", "reference", "register"):
            assert f"Running stage '{stage}@{task}'" in repro.stdout
        for stage in ("train", "measure", "evaluate", "export"):
            for fw in ("tensorflow", "pytorch"):
                assert f"Running stage '{stage}@{task}-{fw}'" in repro.stdout
        metrics = {fw: json.loads((project / "metrics" / task / f"{fw}.json").read_text())
                   for fw in ("tensorflow", "pytorch")}
        assert metrics["tensorflow"]["test_rows"] == metrics["pytorch"]["test_rows"] > 0
        for values in metrics.values():
            assert [r["seed"] for r in values["runs"]] == list(SEEDS)
            assert 0.0 <= values["mean"][names.TEST_ACCURACY] <= 1.0
            onnx_file = project / "metrics" / task / "onnx" / f"{values['framework']}.json"
            onnx = json.loads(onnx_file.read_text())
            assert onnx["exported"] and onnx[names.ONNX_MAX_ABS_DIFF] <= 1e-4
        # and the classical reference scored the same test rows
        reference = json.loads((project / "metrics" / task / f"{names.REFERENCE}.json").read_text())
        assert reference["test_rows"] == metrics["pytorch"]["test_rows"]
    # and the report covers every task in both frameworks
    html = (project / "reports" / "comparison.html").read_text()
    for task in TASKS:
        assert task in html
    assert "tensorflow" in html.lower() and "pytorch" in html.lower()
    assert (project / "reports" / "comparison.md").read_text().count("| ") > 10
    shown = run([str(BIN / "dvc"), "metrics", "show", "--json"], project).stdout
    assert "metrics/iris/tensorflow.json" in shown and "metrics/iris/pytorch.json" in shown


def test_second_repro_runs_no_stage(project, repro):
    # When nothing changed and dvc repro runs again
    again = run([str(BIN / "dvc"), "repro"], project)
    # Then no stage runs
    assert "Running stage" not in again.stdout
    assert "up to date" in run([str(BIN / "dvc"), "status"], project).stdout


def test_runs_and_registry_land_in_the_embedded_store(project, repro):
    # Then mlflow.db at the project root holds one parent run whose children are every training run
    # (task x framework x seed) and every timed mode run, and the registered models' aliases
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("crosstrain")
    runs = client.search_runs([experiment.experiment_id])
    kinds = {kind: [r for r in runs if r.data.tags.get(names.TAG_KIND) == kind]
             for kind in (names.KIND_TRAINING, names.KIND_MODE, names.KIND_REFERENCE, names.KIND_COMPARISON)}
    assert len(kinds[names.KIND_COMPARISON]) == 1
    parent = kinds[names.KIND_COMPARISON][0].info.run_id
    training = kinds[names.KIND_TRAINING]
    assert sorted((r.data.tags[names.TAG_TASK], r.data.tags[names.TAG_FRAMEWORK],
                   int(r.data.tags[names.TAG_SEED])) for r in training) == sorted(
        (task, fw, seed) for task in TASKS for fw in ("tensorflow", "pytorch") for seed in SEEDS)
    assert len(kinds[names.KIND_MODE]) == len(TASKS) * 2 * len(MODES)
    assert sorted(r.data.tags[names.TAG_TASK] for r in kinds[names.KIND_REFERENCE]) == sorted(TASKS)
    assert all(r.data.tags.get(names.TAG_PARENT) == parent
               for r in training + kinds[names.KIND_MODE] + kinds[names.KIND_REFERENCE])
    assert all(names.TEST_ACCURACY in r.data.metrics for r in training)
    # and every run, the parent too, carries its lineage: code, data, params and library versions
    for r in runs:
        tags = r.data.tags
        assert {names.TAG_GIT_COMMIT, names.TAG_GIT_DIRTY, names.TAG_PARAMS_HASH, names.TAG_DATA_DIGEST,
                names.TAG_VERSION_PREFIX + "python", names.TAG_VERSION_PREFIX + "crosstrain"} <= set(tags)
    comparison_tags = kinds[names.KIND_COMPARISON][0].data.tags
    assert all(f"{names.TAG_DATA_DIGEST}.{task}" in comparison_tags for task in TASKS)
    for task in TASKS:
        model = client.get_registered_model(names.registered_model_name(task))
        assert {"tensorflow", "pytorch", names.CHAMPION_ALIAS} <= set(model.aliases)
    assert (project / "mlartifacts").is_dir()


def test_exp_run_with_a_param_override_reruns_only_training(project, repro):
    # When an experiment changes one task's model, as `dvc exp run -S` users do, running up to one
    # training stage (the stages after it would re-run the same way: `dvc status` shows which)
    out = run([str(BIN / "dvc"), "exp", "run", "-S", "tasks.iris.model.hidden=[8]", "train@iris-pytorch"],
              project).stdout
    # Then that task's training re-ran with the new width, the data stages and other tasks are reused
    assert "Running stage 'train@iris-pytorch'" in out
    assert "Running stage 'ingest@iris'" not in out and "Running stage 'validate@iris'" not in out
    seed_dir = project / "models" / "iris" / "pytorch" / names.seed_dir(SEEDS[0])
    info = json.loads((seed_dir / names.TRAIN_INFO_FILE).read_text())
    assert info[names.PARAM_COUNT] == 4 * 8 + 8 + 8 * 3 + 3
    # and what the param reaches is out of date, what it does not reach is not
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], project).stdout)
    assert {"train@iris-tensorflow", "measure@iris-pytorch", "evaluate@iris-pytorch"} <= set(status)
    assert not {"ingest@iris", "validate@iris", "reference@iris", "train@images-pytorch"} & set(status)


def test_compare_last_prints_the_table(project, repro):
    # When a user asks for the last comparison, as the README says
    out = run([str(BIN / "crosstrain"), "compare", "--last"], project).stdout
    # Then every task and framework has a row
    for task in TASKS:
        assert task in out
    assert "tensorflow" in out and "pytorch" in out
