"""The machine a comparison ran on, and its measured matrix-multiply peak.

`describe()` is cheap and safe to call anywhere: it reads /proc, `nvidia-smi` and package metadata,
and imports no framework (it asks `torch.cuda` only if PyTorch is already loaded).
`matmul_peak_gflops(threads)` measures the fp32 GEMM rate both frameworks reach at a thread count:
the denominator of model FLOP utilisation (MFU = achieved FLOP/s / peak FLOP/s).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "crosstrain",
    "tensorflow",
    "keras",
    "torch",
    "onnxruntime",
    "mlflow",
    "dvc",
    "kfp",
    "great_expectations",
)
"""Distributions whose versions are recorded; `tensorflow` falls back to `tensorflow-cpu`."""

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags that give bf16 compute a native path (oneDNN uses them for mixed precision)."""


def _cpuinfo() -> tuple[str | None, set[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; (None, {}) where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, set()
    model: str | None = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:  # x86, ARM
            flags = set(value.split())
    return model, flags


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Installed version of every package in `PACKAGES`, None where it is missing."""
    found = {name: _version(name) for name in PACKAGES}
    if found["tensorflow"] is None:
        found["tensorflow"] = _version("tensorflow-cpu")
    return found


def gpus() -> list[str]:
    """Names of the visible NVIDIA GPUs: from `nvidia-smi`, else from torch.cuda if torch is loaded."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout
            return [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def gpu_details() -> list[dict[str, str]]:
    """Name, driver version and memory of every visible NVIDIA GPU, from `nvidia-smi` (none without it)."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[part.strip() for part in line.split(",")] for line in out.splitlines() if line.strip()]
    return [dict(zip(("name", "driver", "memory"), row, strict=False)) for row in rows]


def describe(threads: int | None = None) -> dict:
    """The environment as a JSON-able dict: CPU, cores, bf16 support, GPU, OS, Python, library versions.

    `threads` is the thread count the run pinned (recorded as given; None where not pinned).
    """
    model, flags = _cpuinfo()
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = os.cpu_count()
    found = gpus()
    details = gpu_details()
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "affinity_cores": affinity,
        "threads": threads,
        "bf16": {flag: flag in flags for flag in BF16_FLAGS},
        "gpu": ", ".join(found) if found else None,
        "gpu_count": len(found),
        "gpu_driver": details[0].get("driver") if details else None,
        "gpu_memory": details[0].get("memory") if details else None,
        # Read by cuBLAS when PyTorch first uses it: set (":4096:8") when train.deterministic is on.
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
    }


# --- the matrix-multiply peak ------------------------------------------------------------------------


def _best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Fastest of `repeats` timed calls of `run`, after one untimed warm-up call."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_gflops(threads: int, size: int, repeats: int) -> float:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a, b = (torch.rand(size, size, generator=gen) for _ in range(2))
        seconds = _best_seconds(lambda: torch.mm(a, b), repeats)
    finally:
        torch.set_num_threads(before)
    return 2 * size**3 / seconds / 1e9


def _tensorflow_gflops(threads: int, size: int, repeats: int) -> tuple[float, dict]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as models/tf.py: no oneDNN banners
    import tensorflow as tf

    threading = tf.config.threading
    try:
        # Only possible before TensorFlow's runtime starts; afterwards the pools keep their sizes.
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    pools = {
        "intra_op": threading.get_intra_op_parallelism_threads(),
        "inter_op": threading.get_inter_op_parallelism_threads(),
    }
    with tf.device("/CPU:0"):
        a = tf.random.stateless_uniform((size, size), seed=(0, 0))
        b = tf.random.stateless_uniform((size, size), seed=(0, 1))
        matmul = tf.function(lambda: tf.linalg.matmul(a, b))
        seconds = _best_seconds(lambda: matmul().numpy(), repeats)
    return 2 * size**3 / seconds / 1e9, pools


def matmul_peak_gflops(threads: int, size: int = 1024, repeats: int = 5) -> dict:
    """The machine's fp32 matrix-multiply rate at `threads` threads, in GFLOP/s (2·size³ FLOPs per product).

    Square `size`×`size` products on the CPU in PyTorch (torch.mm, threads set with torch.set_num_threads
    and restored) and TensorFlow (tf.linalg.matmul in a tf.function); each the best of `repeats` timed
    calls after one warm-up. TensorFlow's thread pools can only be sized before its first op: if they were
    fixed earlier, `tensorflow_threads` records the sizes they actually have. `peak_gflops` is the faster
    of the two, the MFU denominator. A framework that is not installed gives None.
    """
    result: dict = {"threads": threads, "size": size, "repeats": repeats}
    try:
        result["torch_gflops"] = _torch_gflops(threads, size, repeats)
    except ImportError:
        result["torch_gflops"] = None
    try:
        result["tensorflow_gflops"], result["tensorflow_threads"] = _tensorflow_gflops(threads, size, repeats)
    except ImportError:
        result["tensorflow_gflops"], result["tensorflow_threads"] = None, None
    measured = [v for v in (result["torch_gflops"], result["tensorflow_gflops"]) if v is not None]
    result["peak_gflops"] = max(measured) if measured else None
    return result
