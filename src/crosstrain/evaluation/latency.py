"""Inference latency and throughput of any `predict(x) -> logits`: native models in either
framework, every execution mode, and ONNX Runtime are all timed by this one function.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from crosstrain import names
from crosstrain.config import LatencyConfig

Predict = Callable[[np.ndarray], np.ndarray]
Synchronize = Callable[[], None]


def _nothing() -> None:
    """The synchronisation of a predict function that has finished when it returns (ONNX Runtime, CPU)."""


def batch1_latency(predict: Predict, x: np.ndarray, calls: int, warmup: int,
                   synchronize: Synchronize = _nothing) -> list[float]:
    """Seconds per single-example prediction over `calls` calls, after `warmup` untimed ones.

    Rows are sliced before the clock starts, so only the call itself is timed; `synchronize` (the
    backend's, for its device) runs before every clock read, as in the training timers.
    """
    rows = [np.ascontiguousarray(x[i % len(x)][None, ...]) for i in range(warmup + calls)]
    durations = []
    for i, row in enumerate(rows):
        synchronize()
        start = time.perf_counter()
        np.asarray(predict(row))  # materialise: a lazy result would stop the clock too early
        synchronize()
        if i >= warmup:
            durations.append(time.perf_counter() - start)
    return durations


def batch_throughput(predict: Predict, x: np.ndarray, batch: int, repeats: int,
                     synchronize: Synchronize = _nothing) -> float:
    """Examples per second at batch size `batch` (rows repeated when the split is smaller), best of
    `repeats`; `synchronize` before every clock read."""
    rows = np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])) if len(x) < batch else x[:batch])
    np.asarray(predict(rows))  # untimed: first-call allocation and tracing
    best = float("inf")
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        np.asarray(predict(rows))
        synchronize()
        best = min(best, time.perf_counter() - start)
    return batch / best


def measure(predict: Predict, x: np.ndarray, cfg: LatencyConfig, prefix: str = "",
            synchronize: Synchronize = _nothing) -> dict[str, float]:
    """Batch-1 p50/p95/p99 in milliseconds and large-batch examples/s, under the shared metric names.

    `synchronize` is the framework's wait for its device (`Backend.synchronize`), called before the
    clock is read; the default waits for nothing (a predict that returns host arrays has finished).
    """
    ms = np.asarray(batch1_latency(predict, x, cfg.calls, cfg.warmup, synchronize)) * 1000.0
    p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99))
    return {
        prefix + names.LATENCY_P50: p50,
        prefix + names.LATENCY_P95: p95,
        prefix + names.LATENCY_P99: p99,
        prefix + names.THROUGHPUT: batch_throughput(predict, x, cfg.throughput_batch, cfg.throughput_repeats,
                                                       synchronize),
    }
