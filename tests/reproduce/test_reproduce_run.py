"""Sharing a data version through the default DVC remote, and `crosstrain reproduce RUN_ID`, for real.

A temporary git + DVC copy of this repository with small iris-only params (PyTorch, one seed, two
epochs) and its own HOME, so the default remote (~/.cache/crosstrain/dvc-remote) is a fresh directory:
`dvc repro` + `dvc push` there; a fresh clone `dvc pull`s and finds nothing to re-run; the run made by
`dvc repro` is reproduced from its lineage; with the cached data altered, reproduce names both hashes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crosstrain import names

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TARGET = "evaluate@iris-pytorch"  # with its upstream stages: ingest@iris, validate@iris, train@iris-pytorch
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@t"]


def run(cmd: list[str], cwd: Path, home: Path, check: bool = True, **env) -> subprocess.CompletedProcess:
    leaks = ("MLFLOW_", "TF_CONFIG", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
             "TORCHELASTIC_", "CROSSTRAIN_")
    full = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    full.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HOME=str(home), **env)
    result = subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)
    if check:
        out = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{out}"
    return result


def dvc_md5(path: Path) -> str:
    from crosstrain.tracking.lineage import dvc_md5 as md5

    return md5(path)


def locked_md5(project: Path, out: str) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    outs = [o for stage in lock["stages"].values() for o in stage.get("outs", [])]
    return next(o["md5"] for o in outs if o["path"] == out)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory, home) -> Path:
    """A git repository with this one's files and small iris params, reproduced and pushed once."""
    dest = tmp_path_factory.mktemp("origin") / "project"
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
    params["seeds"] = [0]
    params["latency"] = {"calls": 5, "warmup": 1, "throughput_batch": 16, "throughput_repeats": 1}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], dest, home)
    run(["git", "add", "-A"], dest, home)
    run(["git", *GIT_ID, "commit", "-qm", "copy"], dest, home)
    # the run: its commit is this one, dvc.lock comes after (as with `make run`, then commit dvc.lock)
    run([str(BIN / "dvc"), "repro", TARGET], dest, home)
    run([str(BIN / "dvc"), "push"], dest, home)
    run(["git", "add", "-A"], dest, home)
    run(["git", *GIT_ID, "commit", "-qm", "lock"], dest, home)
    return dest


@pytest.fixture(scope="module")
def clone(project, home, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("clone") / "project"
    run(["git", "clone", "-q", str(project), str(dest)], project.parent, home)
    return dest


@pytest.fixture(scope="module")
def run_id(project) -> str:
    info = project / "models" / "iris" / "pytorch" / names.seed_dir(0) / names.TRAIN_INFO_FILE
    return json.loads(info.read_text())["run_id"]


def test_push_fills_the_default_remote_under_home(project, home):
    # Given .dvc/config's default remote ~/.cache/crosstrain/dvc-remote, and HOME a fresh directory
    remote = home / ".cache" / "crosstrain" / "dvc-remote"
    # Then `dvc push` created it and holds the prepared and raw data of iris
    assert (remote / "files" / "md5").is_dir()
    for out in ("data/prepared/iris", "data/raw/iris"):
        md5 = locked_md5(project, out).removesuffix(".dir")
        assert (remote / "files" / "md5" / md5[:2] / f"{md5[2:]}.dir").is_file()
    raw = json.loads((project / "data" / "raw" / "iris" / "source.json").read_text())
    assert raw["source"]["kind"] == "sklearn" and "source.parquet" in raw["files"]


def test_fresh_clone_pulls_and_repro_runs_no_stage(project, clone, home):
    # When a fresh clone pulls from the default remote
    pulled = run([str(BIN / "dvc"), "pull", "--with-deps", TARGET], clone, home)
    assert "data/prepared/iris" in pulled.stdout or (clone / "data" / "prepared" / "iris").is_dir()
    # Then dvc repro finds every stage up to date
    again = run([str(BIN / "dvc"), "repro", TARGET], clone, home)
    assert "Running stage" not in again.stdout
    # and the clone's prepared and raw data are byte-identical to the original's (same DVC hashes)
    for out in ("data/prepared/iris", "data/raw/iris"):
        assert dvc_md5(clone / out) == dvc_md5(project / out) == locked_md5(project, out)


def test_reproduce_agrees(project, home, run_id):
    # When the run dvc repro made is reproduced from its lineage
    done = run([str(BIN / "crosstrain"), "reproduce", run_id], project, home)
    # Then its metrics agree within the tolerances, and the user's store got no new run
    assert f"run {run_id} reproduced" in done.stdout
    assert "test_accuracy" in done.stdout and "DIFFERS" not in done.stdout
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("crosstrain")
    assert len(client.search_runs([experiment.experiment_id])) == 1
    assert not [w for w in run(["git", "worktree", "list"], project, home).stdout.splitlines()[1:]]


def flip_a_byte(path: Path) -> bytes:
    """Alter one byte in place (size kept); returns the original bytes."""
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    original = path.read_bytes()
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0xFF
    path.write_bytes(bytes(altered))
    return original


def test_reproduce_reports_data_changed_underneath(project, clone, home, run_id):
    # Given a prepared iris file altered under its hash in the clone's cache AND in the remote (DVC
    # heals a bad cache file from the remote by itself; bit rot in both it cannot see)
    run([str(BIN / "dvc"), "pull", "--with-deps", TARGET], clone, home)
    digest = locked_md5(project, "data/prepared/iris")
    listing = json.loads((clone / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]).read_text())
    md5 = next(e["md5"] for e in listing if e["relpath"] == "train.parquet")
    remote = home / ".cache" / "crosstrain" / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]
    original = flip_a_byte(remote)
    flip_a_byte(clone / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:])
    try:
        # When the run is reproduced from the clone
        done = run([str(BIN / "crosstrain"), "reproduce", run_id], clone, home, check=False,
                   MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}")
    finally:
        remote.write_bytes(original)
    # Then it fails with one line naming both hashes, before any retraining
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("crosstrain: error: restored data/prepared/iris hashes to ")
    assert f"the run trained on {digest}" in error
    assert "crosstrain train" not in done.stdout
    assert run(["git", "worktree", "list"], clone, home).stdout.count("\n") == 1  # the temporary tree is gone


def test_reproduce_errors_are_one_line(project, home, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("crosstrain", artifact_location=(tmp_path / "art").as_uri())
    bare = client.create_run(experiment).info.run_id
    alien = client.create_run(experiment, tags={
        names.TAG_GIT_COMMIT: "0" * 40, names.TAG_DATA_DIGEST: "0" * 32 + ".dir", names.TAG_TASK: "iris",
        names.TAG_FRAMEWORK: "pytorch", names.TAG_SEED: "0"}).info.run_id
    client.log_text(alien, "seed: 42\n", names.EFFECTIVE_PARAMS_ARTIFACT)
    head = run(["git", "rev-parse", "HEAD"], project, home).stdout.strip()
    unpushed = client.create_run(experiment, tags={
        names.TAG_GIT_COMMIT: head, names.TAG_DATA_DIGEST: "1" * 32 + ".dir", names.TAG_TASK: "iris",
        names.TAG_FRAMEWORK: "pytorch", names.TAG_SEED: "0"}).info.run_id
    client.log_text(unpushed, (project / "params.yaml").read_text(), names.EFFECTIVE_PARAMS_ARTIFACT)
    cases = {"no-such-run": "no MLflow run", bare: "has no lineage", alien: "is not in the repository",
             unpushed: "is neither in the DVC cache nor in the remote"}
    for given, expected in cases.items():
        done = run([str(BIN / "crosstrain"), "reproduce", given], project, home, check=False,
                   MLFLOW_TRACKING_URI=uri)
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1 and expected in done.stderr
