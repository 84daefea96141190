"""The resilience tests' params, and a `crosstrain train` subprocess that pauses after an epoch.

The pause makes "killed after epoch k" exact on a training whose epochs take milliseconds: the
subprocess wraps `crosstrain.training.checkpoint.save`, prints `CHECKPOINT <k>` once k epochs are
saved, and sleeps there; the test then kills or signals it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

EPOCHS = 6
PARAMS = {"seed": 42, "seeds": [0], "tasks": {"iris": {"model": {"kind": "mlp", "hidden": [8]}}},
          "train": {"epochs": EPOCHS, "batch_size": 16, "learning_rate": 0.01, "optimizer": "adam",
                    "deterministic": True}}

PAUSING = textwrap.dedent("""
    import sys, time
    from crosstrain.training import checkpoint
    save, at, pause = checkpoint.save, int(sys.argv[1]), float(sys.argv[2])
    def paused(directory, **kw):
        path = save(directory, **kw)
        if len(kw["history"]["epochs"]) == at:
            print("CHECKPOINT", at, flush=True)
            time.sleep(pause)
        return path
    checkpoint.save = paused
    from crosstrain.cli.main import main
    sys.exit(main(sys.argv[3:]))
""")



def start_paused(framework: str, epochs_done: int, pause_s: float) -> subprocess.Popen:
    """`crosstrain train` in a subprocess, paused for `pause_s` after checkpointing `epochs_done` epochs."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", PAUSING, str(epochs_done), str(pause_s),
         "train", "--task", "iris", "--framework", framework],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_checkpoint(process: subprocess.Popen, epochs_done: int) -> None:
    """Block until the subprocess says it checkpointed `epochs_done` epochs (fail if it ends first)."""
    for line in process.stdout:
        if line.strip() == f"CHECKPOINT {epochs_done}":
            return
    process.wait()
    pytest.fail(f"training ended ({process.returncode}) before epoch {epochs_done}: {process.stderr.read()}")
