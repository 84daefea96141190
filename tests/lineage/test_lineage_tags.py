"""Lineage: every MLflow run records its code, params, data version and libraries."""

from __future__ import annotations

import logging
import subprocess

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from crosstrain import names
from crosstrain.config import Framework, Settings, load_settings
from crosstrain.perf.modes import measure_modes
from crosstrain.tracking import lineage
from crosstrain.training.job import train

VERSIONS = ("python", "torch", "tensorflow", "keras", "crosstrain")


def _assert_lineage(run, settings: Settings, prepared) -> None:
    tags = run.data.tags
    assert tags[names.TAG_GIT_COMMIT] == lineage.git_commit()
    assert tags[names.TAG_GIT_DIRTY] in ("true", "false")
    assert tags[names.TAG_PARAMS_HASH] == lineage.params_hash(settings)
    assert tags[names.TAG_DATA_DIGEST] == lineage.dvc_md5(prepared)
    assert tags[names.TAG_DATA_DIGEST].endswith(".dir")
    for name in VERSIONS:
        assert tags[f"{names.TAG_VERSION_PREFIX}{name}"]


def test_training_run_records_code_params_data_and_versions(iris_prepared, mlflow_store, tmp_path):
    # Given a small deterministic training budget
    settings = Settings.model_validate({"train": {"epochs": 1, "deterministic": True}})
    # When one seed is trained
    (info,) = train("iris", settings, Framework.PYTORCH, iris_prepared, tmp_path / "m", seeds=[0])
    # Then its run carries the lineage tags, and the dataset digest is the DVC hash
    mlflow.set_tracking_uri(mlflow_store)
    client = MlflowClient()
    run = client.get_run(info["run_id"])
    _assert_lineage(run, settings, iris_prepared)
    assert run.inputs.dataset_inputs[0].dataset.digest == lineage.dvc_md5(iris_prepared)
    assert info["data_dvc_md5"] == lineage.dvc_md5(iris_prepared)
    assert run.data.params["deterministic"] == "True"
    # and: the effective params file restores the same settings
    path = client.download_artifacts(info["run_id"], names.EFFECTIVE_PARAMS_ARTIFACT, str(tmp_path))
    restored = load_settings(path, [])
    assert restored == settings and lineage.params_hash(restored) == run.data.tags[names.TAG_PARAMS_HASH]
    assert yaml.safe_load(open(path))["train"]["deterministic"] is True


def test_mode_runs_record_lineage_too(iris_prepared, mlflow_store, tmp_path):
    settings = Settings.model_validate({"measure": {"modes": ["eager-fp32"], "steps": 2, "warmup_steps": 1},
                                        "latency": {"calls": 2, "warmup": 0, "throughput_repeats": 1}})
    result = measure_modes("iris", settings, Framework.PYTORCH, iris_prepared, tmp_path / "modes.json")
    mlflow.set_tracking_uri(mlflow_store)
    run = MlflowClient().get_run(result["modes"][0]["run_id"])
    _assert_lineage(run, settings, iris_prepared)


def test_params_hash_follows_the_params():
    a = Settings.model_validate({"train": {"epochs": 3}})
    assert lineage.params_hash(a) == lineage.params_hash(Settings.model_validate({"train": {"epochs": 3}}))
    assert lineage.params_hash(a) != lineage.params_hash(Settings.model_validate({"train": {"epochs": 4}}))


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_dirty_means_code_or_params_changed_not_pipeline_outputs(tmp_path):
    # Given a committed repository with code and a pipeline output
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "metrics").mkdir()
    (repo / "src" / "a.py").write_text("x = 1\n")
    (repo / "metrics" / "m.json").write_text("{}\n")
    (repo / "dvc.lock").write_text("schema: '2.0'\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert lineage.git_dirty(repo) is False
    # When only outputs change (as `make run` changes them), the tree is still clean
    (repo / "metrics" / "m.json").write_text('{"a": 1}\n')
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    assert lineage.git_dirty(repo) is False
    # When code changes, or a new source file appears, it is dirty
    (repo / "src" / "b.py").write_text("y = 2\n")
    assert lineage.git_dirty(repo) is True
    assert lineage.git_dirty(tmp_path / "not-a-repo") is None


def test_data_digest_equals_dvc_add_and_checks_dvc_lock(iris_prepared, tmp_path, caplog):
    # Given the prepared data in a DVC repository, added by DVC itself
    import shutil

    from dvc.repo import Repo

    root = tmp_path / "dvcrepo"
    shutil.copytree(iris_prepared, root / "data" / "prepared" / "iris")
    repo = Repo.init(str(root), no_scm=True)
    repo.add(str(root / "data" / "prepared" / "iris"))
    added = yaml.safe_load((root / "data" / "prepared" / "iris.dvc").read_text())["outs"][0]["md5"]
    # Then crosstrain's digest is DVC's
    assert lineage.dvc_md5(root / "data" / "prepared" / "iris") == added
    # And a dvc.lock that records other data is reported, while the actual hash is what counts
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"ingest@iris": {
        "cmd": "x", "outs": [{"path": "data/prepared/iris", "md5": "0" * 32 + ".dir"}]}}}))
    with caplog.at_level(logging.WARNING):
        assert lineage.data_digest(root / "data" / "prepared" / "iris") == added
    assert "dvc.lock records" in caplog.text


@pytest.mark.parametrize("name", VERSIONS)
def test_versions_are_read_without_importing_frameworks(name):
    assert lineage.versions()[name]
