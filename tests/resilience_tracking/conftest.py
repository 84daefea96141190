"""Resilience fixtures: an `mlflow server` these tests may stop and restart on the same port and store.

Its start/stop helpers are tests/tracking/conftest.py's (loaded, not copied); the server is the
module's own, because stopping the session's shared one would break other tests.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crosstrain.config import MlflowConfig

_spec = importlib.util.spec_from_file_location(
    "_tracking_conftest_resilience", Path(__file__).parents[1] / "tracking" / "conftest.py"
)
_tracking = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tracking)
HOST, free_port = _tracking.HOST, _tracking.free_port
healthy, stop_group = _tracking._healthy, _tracking._stop_group


class Server:
    """`mlflow server` on one loopback port and one sqlite store, stoppable and restartable."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> None:
        command = [
            str(Path(sys.executable).with_name("mlflow")), "server",
            "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
            "--host", HOST, "--port", str(self.port), "--workers", "1",
        ]
        with (self.root / "server.log").open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "server.log").read_text()[-3000:]
                pytest.fail(f"mlflow server did not come up:\n{log}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A restartable server for this module; always left running between tests, stopped at the end."""
    found = Server(tmp_path_factory.mktemp("resilience-mlflow"))
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def running(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The module's server, up; crosstrain pointed at it; up again after the test whatever it did."""
    if server.process is None:
        server.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    yield server
    if server.process is None:
        server.start()


@pytest.fixture
def quick(tmp_path: Path):
    """Make an MlflowConfig with a short retry window and the journal under `tmp_path`."""

    def make(**changes) -> MlflowConfig:
        values = dict(experiment="resilience", retry_timeout_s=2, retry_initial_s=0.2,
                      offline_dir=str(tmp_path / "mlruns-offline"))
        return MlflowConfig(**{**values, **changes})

    return make
