"""The tracker against real stores: a running `mlflow server`, a sqlite file, and no server at all."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from crosstrain.config import MlflowConfig
from crosstrain.errors import TrackingError
from crosstrain.names import TAG_FRAMEWORK, TAG_GIT_COMMIT, TAG_SEED, TAG_TASK, VAL_ACCURACY
from crosstrain.tracking import Tracker, lineage


def test_start_run_logs_tags_params_and_metrics(tracking_server: str) -> None:
    # given: the default config, with MLFLOW_TRACKING_URI naming the test server
    cfg = MlflowConfig(experiment="service-tests")

    # when: a run logs tags, params and a two-step metric curve
    tracker = Tracker(cfg)
    with tracker.start_run(
        run_name="iris-pytorch",
        tags={TAG_TASK: "iris", TAG_FRAMEWORK: "pytorch", TAG_SEED: 7},
        params={"epochs": 2, "learning_rate": 0.01},
    ) as run_id:
        tracker.log_metrics({VAL_ACCURACY: 0.5}, step=0)
        tracker.log_metrics({VAL_ACCURACY: 0.75}, step=1)

    # then: the server has all of it, in the named experiment, and the run finished
    client = MlflowClient(tracking_uri=tracking_server)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "iris-pytorch"
    assert client.get_experiment(run.info.experiment_id).name == "service-tests"
    assert run.data.tags[TAG_TASK] == "iris"
    assert run.data.tags[TAG_FRAMEWORK] == "pytorch"
    assert run.data.tags[TAG_SEED] == "7"
    assert run.data.tags.get(TAG_GIT_COMMIT) == lineage.git_commit()
    assert run.data.params == {"epochs": "2", "learning_rate": "0.01"}
    history = client.get_metric_history(run_id, VAL_ACCURACY)
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 0.5), (1, 0.75)]


def test_start_run_ends_failed_when_the_block_raises(tracking_server: str) -> None:
    # given: a run whose body fails
    cfg = MlflowConfig(experiment="service-tests")
    run_ids = []

    # when: the error escapes the block
    with pytest.raises(RuntimeError, match="boom"):
        with Tracker(cfg).start_run(run_name="doomed", tags={}, params={}) as run_id:
            run_ids.append(run_id)
            raise RuntimeError("boom")

    # then: the run is recorded as FAILED, not left RUNNING
    assert MlflowClient(tracking_uri=tracking_server).get_run(run_ids[0]).info.status == "FAILED"


def _run_with_artifact(cfg: MlflowConfig, folder: Path) -> str:
    note = folder / "note.txt"
    note.write_text("hello\n")
    tracker = Tracker(cfg)
    with tracker.start_run(run_name="artifacts", tags={}, params={}) as run_id:
        tracker.log_artifacts(note)
    return run_id


def _assert_store_in(folder: Path, run_id: str) -> None:
    """The database is folder/mlflow.db, and the run's artifact sits under folder/mlartifacts/."""
    assert (folder / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    assert client.get_run(run_id).info.status == "FINISHED"
    assert (
        client.get_experiment_by_name("sqlite-tests").artifact_location == (folder / "mlartifacts").as_uri()
    )
    stored = list((folder / "mlartifacts").rglob("note.txt"))
    assert len(stored) == 1 and stored[0].read_text() == "hello\n" and run_id in str(stored[0])


def test_absolute_sqlite_store_keeps_artifacts_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: MLFLOW_TRACKING_URI naming a sqlite file in tmp_path, run from elsewhere
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")

    # when: a run uploads an artifact
    run_id = _run_with_artifact(MlflowConfig(experiment="sqlite-tests"), tmp_path)

    # then: both sit in tmp_path, not in the working directory
    _assert_store_in(tmp_path, run_id)
    assert list((tmp_path / "cwd").iterdir()) == []


def test_default_sqlite_store_follows_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the params default `sqlite:///mlflow.db` (relative), and two project directories
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = MlflowConfig(experiment="sqlite-tests")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()

    # when: one process runs in the first, then in the second (MLflow caches stores by URI string)
    monkeypatch.chdir(first)
    first_run = _run_with_artifact(cfg, first)
    monkeypatch.chdir(second)
    second_run = _run_with_artifact(cfg, second)

    # then: each directory holds its own database and artifacts
    _assert_store_in(first, first_run)
    _assert_store_in(second, second_run)


def test_unreachable_server_raises_tracking_error_naming_it(
    unreachable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a tracking URI where nothing listens, and no retries so the test cannot hang
    monkeypatch.setenv("MLFLOW_TRACKING_URI", unreachable_url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    started = time.monotonic()

    # when / then: connecting fails as a TrackingError that says which URI, promptly
    with pytest.raises(TrackingError, match=re.escape(unreachable_url)):
        Tracker(MlflowConfig(retry_timeout_s=1)).experiment_id()
    assert time.monotonic() - started < 30
