"""The registered champion behind a real `mlflow models serve`: one HTTP request per task.

`--env-manager local`: this environment already holds both frameworks (and crosstrain, which the
pyfunc loads the native model with). Each server serves `models:/crosstrain-<task>@champion` from a
real sqlite store; the three start together, so the test waits for the slowest once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from crosstrain import backends, names
from crosstrain.config import load_settings
from crosstrain.data.dataset import load_meta
from crosstrain.data.ingest import ingest
from crosstrain.tracking import pyfunc

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
# (task, the framework whose model is served, a limit small enough to prepare in seconds)
SERVED = (("iris", "pytorch", None), ("images", "tensorflow", 200), ("text", "pytorch", 200))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, payload: dict) -> list[dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, repo_root):
    """Each task's champion (one framework's model, logged as training logs it) behind its own server."""
    root = tmp_path_factory.mktemp("serve")
    store = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("serve")  # not an experiment id an earlier test left active on another store
    settings = load_settings(repo_root / "params.yaml")
    client = MlflowClient(store)
    started = {}
    try:
        for task, framework, limit in SERVED:
            cfg = settings.task(task)
            cfg = cfg.model_copy(update={"limit": limit}) if limit else cfg
            prepared = root / task
            ingest(task, cfg, 42, prepared)
            meta = load_meta(prepared)
            backend = backends.get(framework)
            inputs = pyfunc.Inputs.from_prepared(framework, meta, prepared)
            with mlflow.start_run():
                info = pyfunc.log_model(backend, backend.build_model(cfg.model, meta), inputs,
                                        inputs.example(prepared))
            name = names.registered_model_name(task)
            client.create_registered_model(name)
            version = client.create_model_version(name, info.model_uri, run_id=info.run_id)
            client.set_registered_model_alias(name, names.CHAMPION_ALIAS, version.version)
            port = _free_port()
            # The venv on PATH, as an activated one is: the server execs `uvicorn`.
            env = {**os.environ, "MLFLOW_TRACKING_URI": store,
                   "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
            process = subprocess.Popen(
                [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{name}@{names.CHAMPION_ALIAS}",
                 "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=open(root / f"{task}.log", "w"))  # noqa: SIM115
            started[task] = (process, port, meta, prepared)
        deadline = time.monotonic() + 180
        for task, (process, port, _, _) in started.items():
            while True:
                assert process.poll() is None, (root / f"{task}.log").read_text()[-3000:]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                        break
                except OSError:
                    assert time.monotonic() < deadline, f"{task}: the server did not answer /ping"
                    time.sleep(1)
        yield {task: (port, meta, prepared) for task, (_, port, meta, prepared) in started.items()}
    finally:
        for process, *_ in started.values():
            process.terminate()
            process.wait(timeout=30)


def _check(predictions: list[dict], classes: list, rows: int) -> None:
    assert len(predictions) == rows
    for row in predictions:
        assert row["class"] in [str(c) for c in classes]
        probabilities = [row[f"p({c})"] for c in classes]
        assert abs(sum(probabilities) - 1.0) < 1e-5
        assert row["probability"] == max(probabilities)


def test_text_champion_answers_raw_review_strings(servers):
    port, meta, _ = servers["text"]
    predictions = _post(port, {"inputs": ["Lovely tea, I drink it every morning.", "Stale. Never again!"]})
    _check(predictions, meta["classes"], rows=2)


def test_table_champion_answers_named_feature_columns(servers):
    port, meta, _ = servers["iris"]
    row = dict(zip(meta["features"], [5.1, 3.5, 1.4, 0.2], strict=True))
    _check(_post(port, {"dataframe_records": [row]}), meta["classes"], rows=1)


def test_image_champion_answers_pixel_arrays(servers):
    port, meta, prepared = servers["images"]
    pixels = np.load(prepared / "test.npz")["x"][:2]
    _check(_post(port, {"inputs": pixels.tolist()}), meta["classes"], rows=2)
