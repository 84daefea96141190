"""The tracker object against a real sqlite store, its no-op twin, and the deprecated wrappers over it.

.venv/bin/python -m pytest tests/tracking/test_tracker.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrain import tracking
from crosstrain.config import MlflowConfig
from crosstrain.distributed import scaling
from crosstrain.tracking import Tracking
from crosstrain.tracking.retry import TrackingRefused


def test_a_tracker_logs_a_run_and_reads_it_back(mlflow_store: str, tmp_path: Path) -> None:
    # given: a tracker on the test's sqlite store
    tracker = tracking.tracker(MlflowConfig(experiment="tracker-tests"))
    note = tmp_path / "note.txt"
    note.write_text("hi\n")

    # when: a run logs metrics, a tag and a file
    with tracker.start_run(run_name="r", tags={"k": 1}, params={"p": 2}) as run_id:
        assert tracker.run_id == run_id and tracker.journal is None
        tracker.log_metrics({"loss": 0.5}, step=0)
        tracker.set_tags({"late": "yes"})
        tracker.log_artifacts(note)

    # then: its client sees all of it, finished, and the tracker has no run any more
    run = tracker.client().get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == {"loss": 0.5}
    assert run.data.tags["k"] == "1" and run.data.tags["late"] == "yes" and run.data.params == {"p": "2"}
    assert [a.path for a in tracker.client().list_artifacts(run_id)] == ["note.txt"]
    assert tracker.run_id is None and tracker.uri == mlflow_store


def test_mlflow_refusals_come_out_as_tracking_refused_with_the_code(mlflow_store: str) -> None:
    # given: a tracker; when: an unknown run is read through its client
    with pytest.raises(TrackingRefused) as err:
        tracking.tracker(MlflowConfig()).client().get_run("0" * 32)

    # then: MLflow's error code and the store are in it, without importing MLflow
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST" and mlflow_store in str(err.value)


def test_no_tracker_does_nothing_and_yields_the_given_id(mlflow_store: str, tmp_path: Path) -> None:
    # given: a disabled tracker (a rank other than 0), typed as the protocol both satisfy
    quiet: Tracking = tracking.tracker(MlflowConfig(), enabled=False)
    called = []

    # when: it is used exactly like a real one
    with quiet.start_run(run_name="r", tags={}, params={}) as new, quiet.resume_run("abc") as resumed:
        quiet.log_metrics({"loss": 1.0}, step=0)
        quiet.set_tags({"k": "v"})
        quiet.log_dataset(None, name="d", source="s", digest="x")
        quiet.log_artifacts(tmp_path)
        info = quiet.log_model(lambda: called.append(1))

    # then: nothing ran, nothing was stored, and the ids are None and the given one
    assert (new, resumed, info, called) == (None, "abc", None, [])
    assert quiet.search_runs("") == [] and quiet.experiment_id() is None and quiet.run_id is None
    assert not Path(mlflow_store.removeprefix("sqlite:///")).exists()


def test_the_scaling_baseline_is_found_through_the_tracker(mlflow_store: str) -> None:
    # given: a finished 1-worker run with a throughput
    tracker = tracking.tracker(MlflowConfig(experiment="scaling-tests"))
    params = {"lr": 0.1, scaling.WORLD_SIZE: 1}
    with tracker.start_run(run_name="one", tags={}, params=params) as one:
        tracker.log_metrics({scaling.THROUGHPUT: 100.0})

    # when: a 2-worker run with the same other params looks for its baseline
    with tracker.start_run(run_name="two", tags={}, params={**params, scaling.WORLD_SIZE: 2}):
        found = scaling.baseline({**params, scaling.WORLD_SIZE: 2}, tracker)
        other = scaling.baseline({"lr": 0.2, scaling.WORLD_SIZE: 2}, tracker)

    # then: it is the 1-worker run; other params have none, and so has a NoTracker
    assert found == (one, 100.0) and other is None
    assert scaling.baseline(params, tracking.NoTracker()) is None
