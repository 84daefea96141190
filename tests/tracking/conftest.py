"""A real `mlflow server` for the tracking tests, started once per session on a loopback port.

The server gets its own sqlite store and artifact folder under pytest's temporary directory, so the
tests never see (or leave anything in) the repository's `mlflow.db`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST = "127.0.0.1"  # loopback only: the test server must never be reachable from outside
STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, give it 15 s, then SIGKILL whatever of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    # The group outlives its leader if a worker ignored SIGTERM; sweep it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `mlflow server` on a free loopback port; yields its URL and stops it at the end."""
    root = tmp_path_factory.mktemp("mlflow-server")
    # The venv's console script, beside this interpreter: PATH may point at another mlflow.
    executable = Path(sys.executable).with_name("mlflow")
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [
        str(executable),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",  # one worker starts faster, and sqlite serialises writes anyway
    ]
    # Output goes to a file, not a pipe: nobody reads a pipe while tests run, and a full one blocks.
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        # A session of its own: `mlflow server` runs uvicorn as a child, and stopping the whole
        # group at teardown is what leaves no stray server behind.
        process = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"mlflow server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server not healthy after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        _stop_group(process)


@pytest.fixture
def tracking_server(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point crosstrain (through MLFLOW_TRACKING_URI) at the session's server; yields its URL."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    return mlflow_server


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL where nothing listens: the port was free a moment ago."""
    return f"http://{HOST}:{free_port()}"
