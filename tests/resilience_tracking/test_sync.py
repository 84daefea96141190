"""With `mlflow.offline_fallback`, an outage is journaled locally and `crosstrain sync` uploads it all."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from crosstrain.cli.main import main
from crosstrain.tracking import Tracker, offline


def _params_file(tmp_path: Path, cfg) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(json.dumps({"mlflow": cfg.model_dump()}))  # JSON is YAML
    return path


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float, int]]:
    return sorted((m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key))


def test_an_outage_is_journaled_and_sync_uploads_every_run_once(running, quick, tmp_path, capsys) -> None:
    # given: the fallback on, a 1 s retry window, an artifact to upload
    cfg = quick(offline_fallback=True, retry_timeout_s=1)
    tracker = Tracker(cfg)
    artifact = tmp_path / "notes.txt"
    artifact.write_text("kept\n")
    name = f"offline-{uuid.uuid4().hex[:8]}"

    # when: a run loses the server midway, and another starts while it is down
    with tracker.start_run(run_name=f"{name}-midway", tags={"k": "v"}, params={"p": 1}) as midway:
        tracker.log_metrics({"loss": 1.0}, step=0)
        running.stop()
        for step in range(1, 4):
            tracker.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        tracker.log_artifacts(artifact, "extra")
    with tracker.start_run(run_name=name, tags={"k": "w"}, params={"lr": 0.1}) as journaled:
        tracker.log_dataset(pd.DataFrame({"x": [1.0], "label": [0]}), name="t-prepared",
                            source=str(tmp_path), digest="0" * 32 + ".dir")
        for step in range(5):
            tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 5}, step=step)
        tracker.log_artifacts(artifact, "extra")
    journal = offline.Journal.open(Path(cfg.offline_dir), journaled)
    local = {key: [(p["step"], p["value"], p["timestamp"]) for p in journal.metrics() if p["key"] == key]
             for key in ("loss", "acc")}

    # then: the second run has a local id, and dry-run lists both without uploading
    assert offline.is_offline_id(journaled) and not offline.is_offline_id(midway)
    params = _params_file(tmp_path, cfg)
    assert main(["sync", "--dry-run", "--params", str(params)]) == 0
    assert capsys.readouterr().out.count("would upload") == 2

    # when: the server is back and sync runs
    running.start()
    assert main(["sync", "--params", str(params)]) == 0
    assert "2 run(s) uploaded" in capsys.readouterr().out

    # then: the midway run has every step and its artifact, and is FINISHED
    client = MlflowClient(running.url)
    assert [s for s, _, _ in _history(client, midway, "loss")] == [0, 1, 2, 3]
    assert client.get_run(midway).info.status == "FINISHED"
    assert [f.path for f in client.list_artifacts(midway, "extra")] == ["extra/notes.txt"]
    # and the journaled run exists once, with its tags, params, dataset, metrics (steps, timestamps), artifact
    experiment = client.get_experiment_by_name(cfg.experiment).experiment_id
    found = client.search_runs([experiment], filter_string=f"attributes.run_name = '{name}'")
    assert len(found) == 1
    run = found[0]
    assert run.data.params == {"lr": "0.1"} and run.data.tags["k"] == "w" and run.info.status == "FINISHED"
    assert [d.dataset.digest for d in run.inputs.dataset_inputs] == ["0" * 32 + ".dir"]
    assert _history(client, run.info.run_id, "loss") == sorted(local["loss"])
    assert _history(client, run.info.run_id, "acc") == sorted(local["acc"])
    assert [f.path for f in client.list_artifacts(run.info.run_id, "extra")] == ["extra/notes.txt"]

    # when: sync runs again; then: nothing is uploaded twice
    assert main(["sync", "--params", str(params)]) == 0
    assert capsys.readouterr().out.count("already synced") == 2
    assert len(client.search_runs([experiment], filter_string=f"attributes.run_name = '{name}'")) == 1
    assert len(_history(client, run.info.run_id, "loss")) == 5


def test_a_model_trained_offline_is_uploaded_by_sync_and_loads_from_the_run(running, quick, tmp_path) -> None:
    import mlflow
    import numpy as np

    from crosstrain import backends
    from crosstrain.config import MLPSpec
    from crosstrain.tracking import pyfunc

    # given: the fallback on and, for now, a tracking URI where nothing listens
    cfg = quick(offline_fallback=True, retry_timeout_s=1)
    tracker = Tracker(cfg, _unreachable_url())
    meta = {"n_features": 4, "n_classes": 3, "features": list("abcd"), "classes": list("xyz"),
            "feature_mean": [0.0] * 4, "feature_std": [1.0] * 4}
    model = backends.get("pytorch").build_model(MLPSpec(), meta)
    inputs = pyfunc.Inputs("pytorch", "table", tuple(meta["classes"]), features=tuple(meta["features"]))
    example = pd.DataFrame(np.ones((2, 4), np.float32), columns=meta["features"])

    # when: a run logs metrics and its model offline, sync runs against the server, evaluate resumes it
    with tracker.start_run(run_name="offline-model", tags={}, params={}) as journaled:
        tracker.log_metrics({"loss": 0.5}, step=0)
        info = tracker.log_model(lambda: pyfunc.log_model(backends.get("pytorch"), model, inputs, example))
    tracker = Tracker(cfg, running.url)
    [synced] = [r for r in tracker.sync() if r.journal == journaled]
    with tracker.resume_run(journaled) as resumed:
        tracker.log_metrics({"test_accuracy": 0.9})

    # then: the run on the server has the metric from training and from evaluation, and its model loads
    assert synced.action == "uploaded" and resumed == synced.run_id
    assert info.model_uri == f"runs:/{journaled}/model"
    run = MlflowClient(running.url).get_run(resumed)
    assert run.data.metrics == {"loss": 0.5, "test_accuracy": 0.9}
    loaded = mlflow.pyfunc.load_model(f"runs:/{resumed}/model")
    predicted = loaded.predict(example)
    assert len(predicted) == 2 and set(predicted["class"]) <= {"x", "y", "z"}


def _unreachable_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
