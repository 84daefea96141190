"""A real `mlflow server` that goes away mid-run: retried within the window, a clear error after it."""

from __future__ import annotations

import re
import threading
import time

import pytest
from mlflow import MlflowClient

from crosstrain.errors import TrackingError
from crosstrain.tracking import Tracker

pytestmark = pytest.mark.slow  # stops and restarts a real mlflow server


def _steps(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_a_server_restarted_within_the_retry_window_loses_no_metric(running, quick) -> None:
    # given: a run logging to a real server, with a 60 s retry window
    cfg = quick(retry_timeout_s=60)
    tracker = Tracker(cfg)
    with tracker.start_run(run_name="restarted", tags={}, params={"p": 1}) as run_id:
        for step in range(3):
            tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
        # when: the server stops and comes back a moment later, while the run keeps logging
        running.stop()
        restart = threading.Thread(target=lambda: (time.sleep(1.0), running.start()))
        restart.start()
        for step in range(3, 6):
            tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
        restart.join()

    # then: every step of every metric is on the server, and the run finished
    client = MlflowClient(running.url)
    assert _steps(client, run_id, "loss") == [(s, 1.0 / (s + 1)) for s in range(6)]
    assert [s for s, _ in _steps(client, run_id, "acc")] == list(range(6))
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_server_gone_for_good_fails_with_one_line_naming_the_uri(running, quick) -> None:
    # given: a run on a real server, a 2 s retry window and no offline fallback
    cfg = quick(retry_timeout_s=2)
    tracker = Tracker(cfg)
    started = None
    with pytest.raises(TrackingError, match=re.escape(running.url)) as err:
        with tracker.start_run(run_name="gone", tags={}, params={}):
            tracker.log_metrics({"loss": 1.0}, step=0)
            # when: the server stops for good
            running.stop()
            started = time.monotonic()
            tracker.log_metrics({"loss": 0.5}, step=1)

    # then: the step fails soon after the window, on one line saying what could not be done
    assert time.monotonic() - started < 15
    message = str(err.value)
    assert "\n" not in message and "unavailable for 2s" in message and "log metrics" in message


def test_a_client_error_is_not_retried(running, quick) -> None:
    # given: a 60 s window; when: a run id the server does not know is re-opened (a 4xx)
    started = time.monotonic()
    with pytest.raises(TrackingError, match="not found|does not exist|RESOURCE_DOES_NOT_EXIST"):
        with Tracker(quick(retry_timeout_s=60)).resume_run("0" * 32):
            pass
    # then: it fails at once instead of retrying for the whole window
    assert time.monotonic() - started < 10


def test_the_retrying_client_names_the_uri_when_nothing_answers(quick) -> None:
    # given: a URL where nothing listens (the port was free a moment ago) and a 1 s window
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = time.monotonic()
    # when / then: a client-API call (as nesting, the registry and checkpoints make) fails naming it
    with pytest.raises(TrackingError, match=re.escape(url)):
        Tracker(quick(retry_timeout_s=1), url).client().search_experiments()
    assert time.monotonic() - started < 15
