"""Start N local workers, watch them, and fail fast: the `--workers N` side of `crosstrain train`.

    crosstrain train --task iris --framework pytorch --workers 2
    crosstrain train --task iris --framework tensorflow --workers 2

PyTorch workers are started by torch's own elastic launcher:

    python -m torch.distributed.run --standalone --nproc-per-node 2 --max-restarts 0 --tee 3 \\
        -m crosstrain.cli.main train --task iris --framework pytorch ...

TensorFlow workers are N processes of the same command, each with a TF_CONFIG naming all workers on
free localhost ports (worker 0 is the chief). Either way the first worker to fail stops the run:
the others are killed and `WorkerFailed` says which worker exited with what, and its last output
lines. Every worker's thread count is set explicitly (torchrun would otherwise force
OMP_NUM_THREADS=1), and an overall deadline, when given, bounds the whole run.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from crosstrain.config import Framework
from crosstrain.distributed.env import TF_CONFIG
from crosstrain.errors import CrosstrainError

TAIL_LINES = 15
TORCHRUN_SUMMARY_LINES = 60  # torchrun's failure report, kept whole to find its root cause
KILL_GRACE_S = 5.0
POLL_S = 0.2
WORKER_MODULE = "crosstrain.cli.main"


class WorkerFailed(CrosstrainError):
    """A worker exited non-zero (or the run passed its deadline); the others were stopped."""


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports that were free a moment ago (all held open together, so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def tf_config(ports: Sequence[int], index: int, host: str = "127.0.0.1") -> str:
    """TF_CONFIG of worker `index` in a cluster of local workers on `ports`."""
    cluster = {"worker": [f"{host}:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}, separators=(",", ":"))


def thread_env(threads: int) -> dict[str, str]:
    """Thread counts set explicitly for every worker (the trainers pin them again in-process)."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def torchrun_command(workers: int, args: Sequence[str], module: str = WORKER_MODULE) -> list[str]:
    """torchrun on this machine: `workers` ranks of `python -m MODULE ARGS`, no restarts."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={workers}",
            "--max-restarts=0", "--tee=3", "-m", module, *args]


@dataclass
class _Process:
    """One child process with its output forwarded (prefixed) and its last lines kept."""

    name: str
    popen: subprocess.Popen
    prefix: str
    tails: dict[str, collections.deque] = field(default_factory=dict)
    reader: threading.Thread | None = None

    def forward(self) -> None:
        rank = re.compile(r"^\[default(\d+)\]:")
        assert self.popen.stdout is not None  # started with stdout=PIPE
        for line in self.popen.stdout:
            sys.stderr.write(f"{self.prefix}{line}" if self.prefix else line)
            match = rank.match(line)
            key = f"worker {match.group(1)}" if match else self.name
            size = TAIL_LINES if match else TORCHRUN_SUMMARY_LINES
            self.tails.setdefault(key, collections.deque(maxlen=size)).append(line.rstrip("\n"))
        sys.stderr.flush()

    def tail(self, key: str | None = None) -> str:
        lines: collections.deque[str] | list[str] = (
            self.tails.get(key or self.name) or self.tails.get(self.name) or [])
        return "\n".join(lines)


def _start(name: str, argv: list[str], env: dict[str, str], prefix: str) -> _Process:
    # A session of its own, so stopping it reaches its children too (torchrun's ranks).
    popen = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             bufsize=1, start_new_session=True)
    process = _Process(name, popen, prefix)
    process.reader = threading.Thread(target=process.forward, daemon=True)
    process.reader.start()
    return process


def _stop(processes: Sequence[_Process]) -> None:
    """SIGTERM each still-running process group we started, then SIGKILL what is left after a grace period."""
    running = [p for p in processes if p.popen.poll() is None]
    for p in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    for p in running:
        try:
            p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.popen.pid, signal.SIGKILL)
            p.popen.wait()


def _watch(processes: Sequence[_Process], timeout_s: float | None) -> _Process | None:
    """Wait until all exit 0 (None), one fails (that one), or the deadline passes (raises)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        codes = [p.popen.poll() for p in processes]
        failed = [p for p, code in zip(processes, codes, strict=True) if code not in (None, 0)]
        if failed:
            return failed[0]
        if all(code == 0 for code in codes):
            return None
        if deadline is not None and time.monotonic() > deadline:
            _stop(processes)
            raise WorkerFailed(f"distributed training did not finish within {timeout_s:g}s; workers stopped")
        time.sleep(POLL_S)


def _torchrun_culprit(process: _Process) -> tuple[str, int]:
    """The failed rank and its exit code from torchrun's 'Root Cause' summary (else torchrun's own)."""
    text = "\n".join(process.tails.get(process.name, []))
    text = text[text.rfind("Root Cause"):] if "Root Cause" in text else text
    rank = re.search(r"rank\s*:\s*(\d+)", text)
    code = re.search(r"exitcode\s*:\s*(-?\d+)", text)
    name = f"worker {rank.group(1)}" if rank else process.name
    return name, int(code.group(1)) if code else process.popen.returncode


def run(framework: Framework, workers: int, args: Sequence[str], *, threads: int,
        timeout_s: float | None = None, module: str = WORKER_MODULE) -> None:
    """Run `crosstrain ARGS` (`python -m MODULE ARGS`) as `workers` local workers of `framework`.

    Returns when all exited 0.

    Raises:
        WorkerFailed: A worker exited non-zero (the rest were stopped), or `timeout_s` passed.
    """
    env = {**os.environ, **thread_env(threads)}
    if Framework(framework) is Framework.PYTORCH:
        processes = [_start("torchrun", torchrun_command(workers, args, module), env, prefix="")]
    else:
        ports = free_ports(workers)
        argv = [sys.executable, "-m", module, *args]
        processes = [_start(f"worker {i}", argv, {**env, TF_CONFIG: tf_config(ports, i)},
                            prefix=f"[worker{i}]:") for i in range(workers)]
    try:
        failed = _watch(processes, timeout_s)
    except BaseException:
        _stop(processes)
        raise
    if failed is not None:
        _stop(processes)
    for p in processes:
        if p.reader is not None:
            p.reader.join(timeout=5)
    if failed is None:
        return
    torchrun = failed.name == "torchrun"
    name, code = _torchrun_culprit(failed) if torchrun else (failed.name, failed.popen.returncode)
    tail = failed.tail(name)
    raise WorkerFailed(f"{name} exited with {code}; the other workers were stopped. Its last lines:\n{tail}")


def run_until_signal(framework: Framework, workers: int, args: Sequence[str], *, threads: int) -> int | None:
    """`run`, stopping the workers on SIGINT or SIGTERM; the signal's number then, None when all finished.

    Each worker ends at an optimiser-step boundary with its last epoch checkpointed, so the same
    command resumes. `WorkerFailed` propagates as from `run`.
    """
    from crosstrain.distributed.signals import Stopped, stop_workers_on_signals

    try:
        with stop_workers_on_signals():
            run(framework, workers, args, threads=threads)
    except Stopped as stopped:
        return stopped.signum
    except KeyboardInterrupt:
        return int(signal.SIGINT)
    return None
