"""Kubeflow ingest from a DVC version: a real git + DVC repository, two data revisions, a local remote.

.venv/bin/python -m pytest tests/kfp/test_dvc_ingest.py -q

The repository is built once per module: `crosstrain ingest` run by `dvc repro` (ingest@iris), dvc.lock
committed, the data pushed to a local directory remote and the repository's own cache deleted, so every
read below comes through git (a file:// clone) and the DVC remote, as in a pod. The second revision
changes the split seed, so the two revisions hold different data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kfp.dsl import Artifact

from crosstrain.data.versioned import DigestMismatchError, check, read_prepared
from crosstrain.errors import MissingInputError, SourceError

BIN = Path(sys.executable).parent
PARAMS = {
    "seed": 42,
    "tasks": {
        "iris": {
            "source": {"kind": "sklearn", "name": "iris"},
            "split": {"val": 0.15, "test": 0.15},
            "limit": 40,
        }
    },
}
DVC_YAML = {
    "stages": {
        "ingest": {
            "matrix": {"task": ["iris"]},
            "cmd": f"{BIN / 'crosstrain'} ingest --task ${{item.task}}",
            "params": ["seed", "tasks.${item.task}.split", "tasks.${item.task}.limit"],
            "outs": ["data/prepared/${item.task}"],
        }
    }
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def _run(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def _revision(repo: Path, seed: int, message: str, push: bool = True) -> dict:
    """Write params with `seed`, `dvc repro`, commit, push (unless not); the commit and what it holds."""
    (repo / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "seed": seed}, sort_keys=False))
    _run(repo, str(BIN / "dvc"), "repro", "ingest@iris")
    _run(repo, "git", "add", "params.yaml", "dvc.yaml", "dvc.lock", "data/prepared/.gitignore")
    _run(repo, "git", "commit", "-qm", message)
    if push:
        _run(repo, str(BIN / "dvc"), "push", "-q")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        "rev": _run(repo, "git", "rev-parse", "HEAD"),
        "digest": json.loads((repo / "data/prepared/iris/meta.json").read_text())["digest"],
        "md5": lock["stages"]["ingest@iris"]["outs"][0]["md5"],
    }


@pytest.fixture(scope="module")
def versioned(tmp_path_factory) -> dict:
    """A git + DVC repo (file:// URL) with iris prepared at two seeds: `{"url", "v1", "v2"}`."""
    root = tmp_path_factory.mktemp("dvc-ingest")
    repo, remote = root / "repo", root / "remote"
    repo.mkdir()
    _run(repo, "git", "init", "-q", "-b", "main")
    _run(repo, str(BIN / "dvc"), "init", "-q")
    _run(repo, str(BIN / "dvc"), "config", "core.analytics", "false")
    _run(repo, str(BIN / "dvc"), "remote", "add", "-d", "local", str(remote))
    (repo / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (repo / ".gitignore").write_text("/data/raw\n")
    _run(repo, "git", "add", ".dvc", ".dvcignore", ".gitignore")
    v1 = _revision(repo, 42, "iris, seed 42")
    v2 = _revision(repo, 7, "iris, seed 7")
    # A branch whose data was never pushed: its commit is readable, its data is not
    _run(repo, "git", "checkout", "-q", "-b", "unpushed")
    _revision(repo, 3, "iris, seed 3, not pushed", push=False)
    _run(repo, "git", "checkout", "-q", "main")
    # Only the remote holds the data now: a read that works comes through it.
    shutil.rmtree(repo / ".dvc" / "cache")
    return {"url": repo.as_uri(), "v1": v1, "v2": v2}


def test_two_revisions_yield_their_two_data_versions(versioned, tmp_path):
    # Given a repository whose two commits prepared iris with different split seeds
    v1, v2 = versioned["v1"], versioned["v2"]
    assert v1["digest"] != v2["digest"] and v1["md5"] != v2["md5"]
    # When the versioned reader reads iris at each revision through dvc.api
    got = {
        name: read_prepared(versioned["url"], v["rev"], "iris", tmp_path / name)
        for name, v in versioned.items()
        if name != "url"
    }
    # Then each revision's data arrives with that revision's digest and dvc.lock md5
    for name in ("v1", "v2"):
        assert got[name]["digest"] == versioned[name]["digest"]
        assert got[name]["dvc"]["md5"] == got[name]["dvc"]["locked_md5"] == versioned[name]["md5"]
        assert got[name]["dvc"]["rev"] == versioned[name]["rev"]
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
            "meta.json",
            "test.parquet",
            "train.parquet",
            "val.parquet",
        ]
    assert got["v1"]["seed"] == 42 and got["v2"]["seed"] == 7
    train = [pd.read_parquet(tmp_path / name / "train.parquet") for name in ("v1", "v2")]
    assert len(train[0]) == len(train[1]) == 40 and not train[0].equals(train[1])
    # And an empty revision means the default branch: the latest data
    assert (
        read_prepared(versioned["url"], "", "iris", tmp_path / "head")["digest"] == versioned["v2"]["digest"]
    )


@pytest.mark.parametrize("kind", ["md5", "digest"])
def test_wrong_expected_digest_fails_naming_both(versioned, tmp_path, kind):
    # Given the first revision, pinned to the second revision's digest (DVC md5 or crosstrain's sha256)
    v1, v2 = versioned["v1"], versioned["v2"]
    # When it is read, then the error names both digests, on one line, and nothing is written
    with pytest.raises(DigestMismatchError) as err:
        read_prepared(versioned["url"], v1["rev"], "iris", tmp_path / "out", expected=v2[kind])
    message = str(err.value)
    assert v2[kind] in message and v1[kind] in message and "\n" not in message
    assert "data/prepared/iris at file://" in message
    assert not (tmp_path / "out").exists()
    # And the right pin passes
    assert read_prepared(versioned["url"], v1["rev"], "iris", tmp_path / "ok", expected=v1[kind])["digest"]


def test_files_that_disagree_with_meta_json_fail(versioned, tmp_path):
    # Given a read revision whose train split is then altered (one feature value)
    read_prepared(versioned["url"], versioned["v1"]["rev"], "iris", tmp_path / "data")
    frame = pd.read_parquet(tmp_path / "data" / "train.parquet")
    frame.iloc[0, 0] += 1.0
    frame.to_parquet(tmp_path / "data" / "train.parquet", index=False)
    # Then the recomputed digest disagrees with meta.json's, and both are named
    with pytest.raises(
        DigestMismatchError, match=f"meta.json digest {versioned['v1']['digest']} != digest [0-9a-f]{{64}}"
    ):
        check(tmp_path / "data", "altered")


def test_a_revision_without_the_task_fails_clearly(versioned, tmp_path):
    with pytest.raises(MissingInputError, match="data/prepared/text at .*not found"):
        read_prepared(versioned["url"], versioned["v1"]["rev"], "text", tmp_path / "out")


def test_a_revision_whose_data_was_not_pushed_fails_clearly(versioned, tmp_path):
    with pytest.raises(
        SourceError, match="data/prepared/iris at .*@unpushed: cannot read it from the DVC remote"
    ):
        read_prepared(versioned["url"], "unpushed", "iris", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _artifact(path: Path) -> Artifact:
    return Artifact(uri=str(path), metadata={})


def test_ingest_component_reads_the_dvc_version(versioned, params_text, tmp_path):
    # Given the component function (as the pod runs it) with dvc_repo, dvc_rev and a pinned DVC md5
    import components as c

    v1 = versioned["v1"]
    prepared = _artifact(tmp_path / "prepared")
    c.ingest.python_func(
        params=params_text,
        task="iris",
        prepared=prepared,
        dvc_repo=versioned["url"],
        dvc_rev=v1["rev"],
        data_digests={"iris": v1["md5"]},
    )
    # Then the output is that revision's data, and its metadata says where it came from
    assert prepared.metadata["digest"] == v1["digest"] and prepared.metadata["dvc_md5"] == v1["md5"]
    assert prepared.metadata["dvc_rev"] == v1["rev"] and prepared.metadata["dvc_repo"] == versioned["url"]
    # And a wrong pin for this task fails the step
    with pytest.raises(DigestMismatchError, match=versioned["v2"]["md5"]):
        c.ingest.python_func(
            params=params_text,
            task="iris",
            prepared=_artifact(tmp_path / "p2"),
            dvc_repo=versioned["url"],
            dvc_rev=v1["rev"],
            data_digests={"iris": versioned["v2"]["md5"]},
        )


def test_ingest_with_dvc_repo_through_kfp_local(versioned, params_text, tmp_path, monkeypatch):
    # kfp.local runs the component's source in a subprocess, as the cluster would
    import components as c
    from kfp import local

    monkeypatch.chdir(tmp_path)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    v2 = versioned["v2"]
    with pytest.warns(RuntimeWarning, match="non-Python base image"):
        task = c.ingest(params=params_text, task="iris", dvc_repo=versioned["url"], dvc_rev=v2["rev"])
    prepared = Path(task.outputs["prepared"].path)
    assert json.loads((prepared / "meta.json").read_text())["digest"] == v2["digest"]
    assert task.outputs["prepared"].metadata["dvc_md5"] == v2["md5"]


def test_compiled_pipeline_passes_the_dvc_parameters_to_ingest():
    # Given the committed compiled pipeline
    from pipelines import pipeline as p

    spec = next(yaml.safe_load_all(p.COMPILED.read_text()))
    # Then dvc_repo, dvc_rev and data_digests are run-time parameters, empty by default
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert {
        k: (inputs[k]["parameterType"], inputs[k]["defaultValue"])
        for k in ("dvc_repo", "dvc_rev", "data_digests")
    } == {
        "dvc_repo": ("STRING", ""),
        "dvc_rev": ("STRING", ""),
        "data_digests": ("STRUCT", {}),
    }
    # And the ingest task inside the loop over tasks receives them
    loop = next(t for t in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in t)
    ingest = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]["ingest"]
    params = ingest["inputs"]["parameters"]
    for name in ("dvc_repo", "dvc_rev", "data_digests"):
        assert params[name] == {"componentInputParameter": f"pipelinechannel--{name}"}
