"""The MLflow service against real stores: a running `mlflow server`, a sqlite file, and no server at all."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from crosstrain.config import MlflowConfig
from crosstrain.errors import TrackingError
from crosstrain.names import TAG_FRAMEWORK, TAG_GIT_COMMIT, TAG_SEED, TAG_TASK, VAL_ACCURACY
from crosstrain.tracking import service


def test_start_run_logs_tags_params_and_metrics(tracking_server: str) -> None:
    # given: the default config, with MLFLOW_TRACKING_URI naming the test server
    cfg = MlflowConfig(experiment="service-tests")

    # when: a run logs tags, params and a two-step metric curve
    with service.start_run(
        cfg,
        run_name="iris-pytorch",
        tags={TAG_TASK: "iris", TAG_FRAMEWORK: "pytorch", TAG_SEED: 7},
        params={"epochs": 2, "learning_rate": 0.01},
    ) as run_id:
        service.log_metrics({VAL_ACCURACY: 0.5}, step=0)
        service.log_metrics({VAL_ACCURACY: 0.75}, step=1)

    # then: the server has all of it, in the named experiment, and the run finished
    client = MlflowClient(tracking_uri=tracking_server)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "iris-pytorch"
    assert client.get_experiment(run.info.experiment_id).name == "service-tests"
    assert run.data.tags[TAG_TASK] == "iris"
    assert run.data.tags[TAG_FRAMEWORK] == "pytorch"
    assert run.data.tags[TAG_SEED] == "7"
    assert run.data.tags.get(TAG_GIT_COMMIT) == service.git_commit()
    assert run.data.params == {"epochs": "2", "learning_rate": "0.01"}
    history = client.get_metric_history(run_id, VAL_ACCURACY)
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 0.5), (1, 0.75)]


def test_start_run_ends_failed_when_the_block_raises(tracking_server: str) -> None:
    # given: a run whose body fails
    cfg = MlflowConfig(experiment="service-tests")
    run_ids = []

    # when: the error escapes the block
    with pytest.raises(RuntimeError, match="boom"):
        with service.start_run(cfg, run_name="doomed", tags={}, params={}) as run_id:
            run_ids.append(run_id)
            raise RuntimeError("boom")

    # then: the run is recorded as FAILED, not left RUNNING
    assert MlflowClient(tracking_uri=tracking_server).get_run(run_ids[0]).info.status == "FAILED"


@pytest.mark.parametrize("absolute", [False, True], ids=["default-relative", "absolute"])
def test_sqlite_store_keeps_artifacts_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, absolute: bool
) -> None:
    # given: a sqlite store in tmp_path, named relative (the params default) or absolute (the env)
    monkeypatch.chdir(tmp_path)
    if absolute:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = MlflowConfig(experiment="sqlite-tests")
    note = tmp_path / "note.txt"
    note.write_text("hello\n")

    # when: a run uploads an artifact
    with service.start_run(cfg, run_name="artifacts", tags={}, params={}) as run_id:
        service.log_artifacts(note)

    # then: the database and the artifact both sit in tmp_path, the artifact under mlartifacts/
    assert (tmp_path / "mlflow.db").is_file()
    experiment = MlflowClient().get_experiment_by_name("sqlite-tests")
    assert experiment.artifact_location == (tmp_path / "mlartifacts").as_uri()
    stored = list((tmp_path / "mlartifacts").rglob("note.txt"))
    assert len(stored) == 1 and stored[0].read_text() == "hello\n"
    assert run_id in str(stored[0])


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
        service.connect(MlflowConfig())
    assert time.monotonic() - started < 30
