"""Throughput and scaling efficiency of a training run, and the 1-worker run to compare it with.

Scaling efficiency = throughput at N workers / (N x throughput at 1 worker), the 1-worker figure
taken from the newest finished MLflow run with the same params apart from the world size and backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crosstrain.tracking import Tracking

WORLD_SIZE = "world_size"
BACKEND = "backend"
THREADS_PER_WORKER = "threads_per_worker"
THROUGHPUT = "throughput_examples_per_s"
THROUGHPUT_PER_WORKER = "throughput_per_worker_examples_per_s"
SCALING_EFFICIENCY = "scaling_efficiency"
BASELINE_RUN = "scaling_baseline_run_id"  # in train.json

# Params that may differ between a run and its 1-worker baseline.
_DISTRIBUTION_PARAMS = {WORLD_SIZE, BACKEND}


def throughput(examples: int, seconds: float) -> float:
    """Training examples per second of optimiser-step time (all workers together)."""
    return examples / seconds if seconds > 0 else 0.0


def baseline(params: Mapping[str, Any], tracker: Tracking) -> tuple[str, float] | None:
    """(run id, throughput) of the newest finished 1-worker run of the active experiment with the same params.

    Call inside `tracker`'s active run (its experiment is searched, with the tracker's retries);
    None when there is no such run, or no run at all (a NoTracker).
    """
    current = tracker.run_id
    if current is None:
        return None
    wanted = {k: str(v) for k, v in params.items() if k not in _DISTRIBUTION_PARAMS}
    runs = tracker.search_runs(
        f"params.{WORLD_SIZE} = '1' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    for run in runs:
        if run.info.run_id == current or THROUGHPUT not in run.data.metrics:
            continue
        if all(run.data.params.get(k) == v for k, v in wanted.items()):
            return run.info.run_id, run.data.metrics[THROUGHPUT]
    return None


def metrics(examples: int, seconds: float, world_size: int, reference: float | None) -> dict[str, float]:
    """Global and per-worker throughput; scaling efficiency too when a 1-worker `reference` exists."""
    total = throughput(examples, seconds)
    found = {THROUGHPUT: total, THROUGHPUT_PER_WORKER: total / world_size}
    if world_size > 1 and reference:
        found[SCALING_EFFICIENCY] = total / (world_size * reference)
    return found
