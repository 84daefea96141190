"""Two trainings logging to one sqlite `mlflow.db` at once: both complete, with all their metrics."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mlflow import MlflowClient

STEPS = 150
KEYS = ("loss", "acc", "lr")

# What a training run does with the store: start a run with params, log per-step metrics, end it.
WORKER = textwrap.dedent(f"""
    import sys
    from crosstrain.config import MlflowConfig
    from crosstrain.tracking import Tracker

    name = sys.argv[1]
    tracker = Tracker(MlflowConfig(experiment="concurrent", retry_timeout_s=60))
    with tracker.start_run(run_name=name, tags={{}}, params={{"worker": name}}) as run_id:
        for step in range({STEPS}):
            tracker.log_metrics({{key: step / {STEPS} for key in {KEYS!r}}}, step=step)
    print(run_id)
""")


def test_two_processes_logging_to_one_sqlite_store_both_keep_every_metric(tmp_path: Path) -> None:
    # given: a fresh store (the first writes also create its tables and the experiment)
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "HOME": str(tmp_path)}

    # when: two runs start at the same moment and log many metrics each
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, name], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    # then: both exit 0, and each run has every step of every metric, finished
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for out, _ in outputs:
        run_id = out.strip().splitlines()[-1]
        assert client.get_run(run_id).info.status == "FINISHED"
        for key in KEYS:
            assert sorted(m.step for m in client.get_metric_history(run_id, key)) == list(range(STEPS))
