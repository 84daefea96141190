"""The resilience tests' params, and a `crosstrain train` subprocess that pauses after an epoch.

The pause makes "killed after epoch k" exact on a training whose epochs take milliseconds: the
subprocess wraps `crosstrain.training.checkpoint.save`, prints `CHECKPOINT <k>` once k epochs are
saved, and sleeps there; the test then kills or signals it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

EPOCHS = 6
PARAMS = {"seed": 42, "seeds": [0], "tasks": {"iris": {"model": {"kind": "mlp", "hidden": [8]}}},
          "train": {"epochs": EPOCHS, "batch_size": 16, "learning_rate": 0.01, "optimizer": "adam",
                    "deterministic": True}}

MODULE = "paused_training"  # `python -m paused_training K PAUSE_S ARGS...` with tests/resilience on the path


def main(argv: list[str]) -> int:
    """`crosstrain ARGS`, pausing PAUSE_S seconds once K epochs are checkpointed (argv: K PAUSE_S ARGS)."""
    import time

    from crosstrain.cli.main import main as crosstrain
    from crosstrain.training import checkpoint

    save, at, pause = checkpoint.save, int(argv[0]), float(argv[1])

    def paused(directory, **kw):
        path = save(directory, **kw)
        if len(kw["history"]["epochs"]) == at:
            print("CHECKPOINT", at, flush=True)
            time.sleep(pause)
        return path

    checkpoint.save = paused
    return crosstrain(argv[2:])


def here_env() -> dict[str, str]:
    """The environment with this directory importable (for `-m paused_training`), unbuffered output."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}



def start_paused(framework: str, epochs_done: int, pause_s: float) -> subprocess.Popen:
    """`crosstrain train` in a subprocess, paused for `pause_s` after checkpointing `epochs_done` epochs."""
    return subprocess.Popen(
        [sys.executable, "-m", MODULE, str(epochs_done), str(pause_s),
         "train", "--task", "iris", "--framework", framework],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=here_env())


def wait_for_checkpoint(process: subprocess.Popen, epochs_done: int) -> None:
    """Block until the subprocess says it checkpointed `epochs_done` epochs (fail if it ends first)."""
    for line in process.stdout:  # torchrun prefixes its workers' lines ("[default0]:")
        if line.strip().endswith(f"CHECKPOINT {epochs_done}"):
            return
    process.wait()
    pytest.fail(f"training ended ({process.returncode}) before epoch {epochs_done}: {process.stderr.read()}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
