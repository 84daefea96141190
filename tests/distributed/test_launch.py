"""The launcher fails fast: a dying worker stops the rest with a clear message; a deadline bounds the run."""

from __future__ import annotations

import textwrap
import time

import pytest

from crosstrain.config import Framework
from crosstrain.distributed import launch

# Rank 1 dies after a moment; rank 0 would otherwise wait a long time (like a peer stuck in a collective).
FAKE_WORKER = textwrap.dedent("""
    import json, os, sys, time
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    rank = int(os.environ.get("RANK") or tf_config.get("task", {}).get("index", 0))
    print(f"threads={os.environ.get('OMP_NUM_THREADS')}", flush=True)
    if rank == 1 and sys.argv[1:] == ["die"]:
        time.sleep(0.5)
        print("boom: rank 1 lost its data", file=sys.stderr, flush=True)
        sys.exit(3)
    time.sleep(60 if sys.argv[1:] else 0)
""")


@pytest.fixture
def fake_worker(tmp_path, monkeypatch) -> str:
    (tmp_path / "fake_worker.py").write_text(FAKE_WORKER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "fake_worker"


@pytest.mark.parametrize("framework", list(Framework))
def test_a_dying_worker_stops_the_others_with_its_exit_code_and_last_lines(framework, fake_worker):
    # Given two workers, of which worker 1 exits with 3 while worker 0 still runs
    start = time.monotonic()
    # When they are launched
    with pytest.raises(launch.WorkerFailed) as failed:
        launch.run(framework, 2, ["die"], threads=1, timeout_s=50, module=fake_worker)
    # Then the run fails quickly, naming worker 1, its exit code and its last output
    assert time.monotonic() - start < 30
    assert "worker 1 exited with 3" in str(failed.value)
    assert "boom: rank 1 lost its data" in str(failed.value)


def test_workers_that_finish_return_and_get_their_thread_count(fake_worker, capfd):
    launch.run(Framework.TENSORFLOW, 2, [], threads=2, timeout_s=60, module=fake_worker)
    assert capfd.readouterr().err.count("threads=2") == 2


def test_a_run_past_its_deadline_is_stopped(fake_worker):
    start = time.monotonic()
    with pytest.raises(launch.WorkerFailed, match="did not finish within 2s"):
        launch.run(Framework.TENSORFLOW, 2, ["wait"], threads=1, timeout_s=2, module=fake_worker)
    assert time.monotonic() - start < 15
