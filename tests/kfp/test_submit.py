"""`crosstrain pipeline submit` against a fake Kubeflow Pipelines API on 127.0.0.1.

No KFP backend can run here (it needs a Kubernetes cluster with Argo and MySQL), so a small HTTP
server answers the v2beta1 REST calls kfp.Client makes (healthz, experiments, create run, get run)
and records what it was sent.

.venv/bin/python -m pytest tests/kfp/test_submit.py -q
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crosstrain.errors import ConfigError


class FakeKfp(BaseHTTPRequestHandler):
    """The few endpoints of the KFP v2beta1 API that submit uses; requests land in `server.calls`."""

    def _reply(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.calls.append((self.command, self.path, body))
        return body

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._record()
        if self.path.startswith("/apis/v2beta1/healthz"):
            self._reply({"multi_user": False})
        elif self.path.startswith("/apis/v2beta1/experiments"):
            self._reply({"experiments": [], "total_size": 0})
        elif self.path.startswith("/apis/v2beta1/runs/run-1"):
            self._reply({"run_id": "run-1", "display_name": "r", "state": self.server.final_state})
        else:
            self._reply({"error": "not found"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        body = self._record()
        if self.path.startswith("/apis/v2beta1/experiments"):
            self._reply({"experiment_id": "exp-1", "display_name": body["display_name"]})
        elif self.path.startswith("/apis/v2beta1/runs"):
            self._reply({"run_id": "run-1", "display_name": body["display_name"], "state": "PENDING"})
        else:
            self._reply({"error": "not found"}, 404)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def kfp_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKfp)
    server.calls, server.final_state = [], "SUCCEEDED"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_submit_sends_the_compiled_spec_and_parameters(cli, kfp_api, small_params, capsys):
    # When a run is submitted with an override and waited for
    code = cli(
        [
            "pipeline",
            "submit",
            "--host",
            _url(kfp_api),
            "--experiment",
            "exp",
            "--run-name",
            "r1",
            "--params",
            str(small_params),
            "--set",
            "train.epochs=2",
            "--wait",
        ]
    )
    out = capsys.readouterr().out
    # Then it created the experiment and one run holding the compiled pipeline and the parameters
    assert code == 0, out
    (run,) = [
        body for method, path, body in kfp_api.calls if method == "POST" and path == "/apis/v2beta1/runs"
    ]
    assert run["display_name"] == "r1" and run["experiment_id"] == "exp-1"
    # (with Kubernetes settings the client sends the pipeline spec and the platform spec side by side)
    spec, platform = run["pipeline_spec"]["pipeline_spec"], run["pipeline_spec"]["platform_spec"]
    assert spec["pipelineInfo"]["name"] == "crosstrain-comparison"
    assert "exec-train" in spec["deploymentSpec"]["executors"]
    assert "tolerations" in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    parameters = run["runtime_config"]["parameters"]
    assert parameters["tasks"] == ["iris"] and parameters["epochs"] == 2
    assert parameters["mlflow_tracking_uri"] == "http://mlflow.crosstrain.svc.cluster.local:5000"
    assert json.loads(parameters["params"])["train"]["epochs"] == 2
    # And it printed the run's URL and its final state
    assert f"run: {_url(kfp_api)}/#/runs/details/run-1" in out and "finished: SUCCEEDED" in out


def test_submit_wait_exits_nonzero_when_the_run_failed(cli, kfp_api, small_params, capsys):
    kfp_api.final_state = "FAILED"
    assert cli(["pipeline", "submit", "--host", _url(kfp_api), "--params", str(small_params), "--wait"]) == 1
    assert "finished: FAILED" in capsys.readouterr().out


def test_submit_without_wait_returns_after_creating_the_run(cli, kfp_api, small_params):
    assert cli(["pipeline", "submit", "--host", _url(kfp_api), "--params", str(small_params)]) == 0
    assert not [path for method, path, _ in kfp_api.calls if path.startswith("/apis/v2beta1/runs/")]


def test_unreachable_host_fails_fast_with_the_url(cli, small_params, capsys):
    # A port nobody listens on: refused at once
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    code = cli(["pipeline", "submit", "--host", f"http://127.0.0.1:{port}", "--params", str(small_params)])
    assert code == 1 and time.monotonic() - start < 10
    assert f"http://127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope"], "unknown task 'nope'"),
        (["--set", "seed=abc"], "seed: Input should be a valid integer"),
    ],
)
def test_bad_input_fails_before_anything_is_sent(cli, kfp_api, small_params, capsys, args, message):
    code = cli(["pipeline", "submit", "--host", _url(kfp_api), "--params", str(small_params), *args])
    assert code == ConfigError.exit_code and message in capsys.readouterr().err
    assert kfp_api.calls == []
