"""A fake Kubernetes API server on 127.0.0.1 for the TrainJob wait/status/failure/delete logic.

No cluster can run here (no Kubeflow Trainer, no JobSet controller, no nodes), so the tests point the
real `kubernetes` client at this server, which answers the few calls crosstrain.kube.trainjob makes:
create/get/delete a TrainJob, list a TrainJob's pods, read a pod's log. Each GET of the TrainJob
returns the next scripted status (the last one repeats), as the Trainer controller would set it.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TRAINJOBS = re.compile(r"^/apis/trainer\.kubeflow\.org/v1alpha1/namespaces/([^/]+)/trainjobs(?:/([^/?]+))?")
PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/?]+)/log)?")


@dataclass
class FakeKube:
    """The fake API's state: TrainJobs, scripted statuses, pods with logs, and every request seen."""

    statuses: list[dict] = field(default_factory=list)
    pods: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (phase, log)
    jobs: dict[str, dict] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    on_get: list = field(default_factory=list)  # callbacks(job) run on each GET (e.g. "worker 0 uploads")
    host: str = ""

    def next_status(self) -> dict:
        return self.statuses.pop(0) if len(self.statuses) > 1 else (self.statuses or [{}])[0]


class _Handler(BaseHTTPRequestHandler):
    """The fake API server's request handler; `kube` is set per server by `handler_for`."""

    kube: FakeKube

    def log_message(self, *args):  # quiet
        pass

    def reply(self, code: int, body, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def not_found(self) -> None:
        self.reply(
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
            },
        )

    def do_POST(self):
        self.kube.requests.append(("POST", self.path))
        match = TRAINJOBS.match(self.path)
        if not match:
            return self.not_found()
        job = self.body()
        self.kube.jobs[job["metadata"]["name"]] = job
        self.reply(201, job)

    def do_GET(self):
        self.kube.requests.append(("GET", self.path))
        if (match := TRAINJOBS.match(self.path)) and match[2]:
            job = self.kube.jobs.get(match[2])
            if job is None:
                return self.not_found()
            job["status"] = self.kube.next_status()
            for callback in self.kube.on_get:
                callback(job)
            return self.reply(200, job)
        if match := PODS.match(self.path):
            if match[2]:
                return self.reply(200, self.kube.pods[match[2]][1], "text/plain")
            items = [
                {"metadata": {"name": n, "namespace": match[1]}, "status": {"phase": phase}}
                for n, (phase, _) in self.kube.pods.items()
            ]
            return self.reply(
                200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            )
        self.not_found()

    def do_DELETE(self):
        self.kube.requests.append(("DELETE", self.path))
        match = TRAINJOBS.match(self.path)
        if not match or match[2] not in self.kube.jobs:
            return self.not_found()
        self.body()
        self.kube.deleted.append(match[2])
        del self.kube.jobs[match[2]]
        self.reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


def handler_for(kube: FakeKube) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving `kube`."""
    return type("Handler", (_Handler,), {"kube": kube})


@pytest.fixture
def fake_kube():
    """A FakeKube served on 127.0.0.1 (a free port) for the test's duration."""
    kube = FakeKube()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(kube))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    kube.host = f"http://127.0.0.1:{server.server_address[1]}"
    yield kube
    server.shutdown()
    server.server_close()


@pytest.fixture
def trainjobs(fake_kube):
    """crosstrain's TrainJobs client, talking to the fake API server in namespace `ml`."""
    from kubernetes import client

    from crosstrain.kube.trainjob import TrainJobs

    config = client.Configuration()
    config.host = fake_kube.host
    return TrainJobs("ml", api_client=client.ApiClient(config))
