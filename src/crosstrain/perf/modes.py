"""Execution modes compared: the same short training in every mode, then inference in that mode.

    crosstrain measure --task iris --framework pytorch
    crosstrain measure --task images --framework tensorflow --set measure.steps=50

For each mode in `measure.modes` (eager-fp32, compiled-fp32, eager-mixed, compiled-mixed) the task's
model is built from the same numpy initial weights (`seeds[0]`), pinned to the same threads, and
trained for `measure.warmup_steps + measure.steps` optimiser steps on the same mini-batches (the
epoch-0 batch order of `crosstrain.training.loop`, full batches only, cycled). The first step is
timed alone: its time minus the steady median step is the compile time (TensorFlow's trace, XLA,
TorchDynamo + Inductor). The timed steps give the median step time and training throughput. Then
batch-1 latency and large-batch throughput on the test split are measured by the same timer as
every other latency (`crosstrain.evaluation.latency`), with a predict function in that mode.

A mode that fails to build or run here (an op XLA cannot compile, say) is recorded with
`supported: false` and the reason instead of failing the step; so is bf16 that this CPU only emulates
(no avx512_bf16 or amx_bf16): its timings are kept, flagged.
"""

from __future__ import annotations

import functools
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain import backends, devices, names, tracking
from crosstrain.config import Framework, Settings, TrainConfig, parse_mode
from crosstrain.data.dataset import Split, load_meta, load_split
from crosstrain.evaluation import latency
from crosstrain.io import atomic_write_json
from crosstrain.models.spec import describe, initial_weights
from crosstrain.progress import step_progress
from crosstrain.tracking import Tracking, lineage
from crosstrain.training.loop import TrainStep, batch_order, speed_figures

log = logging.getLogger(__name__)

LOSS_FIRST, LOSS_LAST = "loss_first", "loss_last"
METRICS = (names.COMPILE_TIME, names.STEP_TIME, names.TRAIN_THROUGHPUT, LOSS_FIRST, LOSS_LAST,
           names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT)
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (x86 avx512_bf16 / amx_bf16; arm64's bf16 feature)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {*BF16_FLAGS, "bf16"})


def mode_batches(n: int, batch_size: int, seed: int, count: int) -> list[np.ndarray]:
    """`count` mini-batches of indices: the epoch-0 order, full batches only, cycled.

    The short last batch is left out: a new shape would make XLA and torch.compile compile again in
    the middle of the timed steps.
    """
    order = batch_order(n, batch_size, seed, 0)
    full = [idx for idx in order if len(idx) == batch_size] or order
    return [full[i % len(full)] for i in range(count)]


def time_steps(step: TrainStep, train: Split, batches: list[np.ndarray],
               warmup: int, advance: Callable[[str], None] | None = None) -> dict[str, float]:
    """Run the steps, timing each one (the device synchronised and the loss read before the clock stops).

    The first step is timed alone (compile time); the steps after the first `max(warmup, 1)` are steady.
    """
    durations, losses = [], []
    for idx in batches:
        x, y = train.x[idx], train.y[idx]
        start = time.perf_counter()
        result = step(x, y)
        step.synchronize()
        loss = float(result)
        durations.append(time.perf_counter() - start)
        losses.append(loss)
        if advance is not None:
            advance(f"loss {loss:.4f}")
    steady = durations[max(warmup, 1):]
    median = statistics.median(steady)
    return {
        **speed_figures(durations[0], median, len(batches[-1]) / median),
        LOSS_FIRST: losses[0],
        LOSS_LAST: losses[-1],
    }


def _budget(settings: Settings, task: str, mode: str) -> TrainConfig:
    execution, precision = parse_mode(mode)
    # Timed with op determinism off in both frameworks: it is a reproducibility switch, not part of a
    # mode, and TensorFlow has no deterministic XLA kernel for some gradients (MaxPool's), which would
    # leave the compiled CNN unmeasured. Mode runs compare speed; the training runs stay deterministic.
    return devices.on_device(settings.train_for(task)).model_copy(
        update={"execution": execution, "precision": precision, "deterministic": False})


def timed_training(task: str, settings: Settings, framework: Framework, meta: dict, train: Split,
                   budget: TrainConfig, *, warmup: int, steps: int,
                   label: str | None = None) -> tuple[Any, dict]:
    """Build the task's model from `seeds[0]`'s initial weights and time `max(warmup, 1) + steps` steps.

    The model is built in `budget`'s precision, its train step by the library's `make_train_step` in
    `budget`'s execution, and it trains on the epoch-0 batches of `mode_batches`. The framework must
    be configured already (threads, seed, determinism). Returns (model, the figures of `time_steps`);
    with `label`, a progress bar follows the steps.
    """
    cfg, seed = settings.task(task), settings.seeds[0]
    backend = backends.get(framework)
    model = backend.build_model(cfg.model, meta, precision=budget.precision)
    backend.set_weights(model, initial_weights(cfg.model, meta, seed))
    step = backend.make_train_step(model, budget, train.x[:1])
    batches = mode_batches(len(train), budget.batch_size, seed, max(warmup, 1) + steps)
    if label is None:
        return model, time_steps(step, train, batches, warmup)
    with step_progress(label, len(batches)) as advance:
        return model, time_steps(step, train, batches, warmup, advance)


def measure_mode(task: str, settings: Settings, framework: Framework, meta: dict, splits: tuple[Split, Split],
                 mode: str) -> dict[str, float]:
    """Train the task's model briefly in `mode` on `splits`' train split, then time its inference in
    that mode on the test split; the metrics."""
    train, test = splits
    budget = _budget(settings, task, mode)
    backend = backends.get(framework)
    backend.configure(budget.threads, settings.seeds[0], budget.deterministic, budget.device)
    model, metrics = timed_training(task, settings, framework, meta, train, budget,
                                    warmup=settings.measure.warmup_steps, steps=settings.measure.steps,
                                    label=f"measure {task}/{framework} {mode}")
    predict = backend.make_predict(model, execution=budget.execution)
    return {**metrics, **latency.measure(predict, test.x, settings.latency,
                                         synchronize=lambda: backend.synchronize(budget.device))}


def _reason(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def measure_modes(task: str, settings: Settings, framework: Framework, prepared: Path,
                  out_file: Path, *, tracker: Tracking | None = None) -> dict:
    """Measure every mode in `settings.measure.modes`; one MLflow run each; write `out_file` (JSON).

    Returns the file's content: {task, framework, threads, steps, warmup_steps, batch_size, seed,
    modes: [{mode, execution, precision, supported, reason, run_id, compile_time_s, step_time_ms,
    train_examples_per_s, loss_first, loss_last, latency_ms_p50/p95/p99, inference_examples_per_s}]}.
    Metrics of a mode that could not run are null.
    """
    framework = Framework(framework)
    tracker = tracker or tracking.tracker(settings.mlflow)
    cfg = settings.task(task)
    meta = load_meta(prepared)
    train, test = load_split(prepared, "train"), load_split(prepared, "test")
    base = settings.train_for(task)
    data_version = lineage.data_digest(prepared)  # DVC's hash, as on the training runs
    entries = []
    for mode in settings.measure.modes:
        execution, precision = parse_mode(mode)
        supported, reason = True, None
        try:
            metrics: dict[str, Any] = measure_mode(task, settings, framework, meta, (train, test), mode)
        except Exception as err:  # noqa: BLE001  (a mode this build or CPU cannot run is a finding, not a crash)
            log.warning("measure %s/%s %s failed: %s", task, framework, mode, err)
            metrics, supported, reason = dict.fromkeys(METRICS), False, _reason(err)
        else:
            if precision == "mixed" and not cpu_bf16():
                supported, reason = False, "bf16 emulated: this CPU has no avx512_bf16 or amx_bf16"
        tags = {names.TAG_KIND: names.KIND_MODE, names.TAG_MODE: mode, names.TAG_TASK: task,
                names.TAG_FRAMEWORK: framework, names.TAG_MODEL: describe(cfg.model),
                names.TAG_DATA_DIGEST: data_version, names.TAG_SUPPORTED: str(supported).lower()}
        params = {"task": task, "framework": str(framework), "mode": mode, "execution": execution,
                  "precision": precision, "threads": base.threads, "steps": settings.measure.steps,
                  "warmup_steps": settings.measure.warmup_steps, "batch_size": base.batch_size,
                  "seed": settings.seeds[0], "model": describe(cfg.model), "reason": reason}
        with tracker.start_run(run_name=f"{task}-{framework}-{mode}", tags=tags, params=params,
                               settings=settings) as run_id:
            tracker.log_metrics({k: v for k, v in metrics.items() if v is not None})
        entries.append({"mode": mode, "execution": execution, "precision": precision, "supported": supported,
                        "reason": reason, "run_id": run_id, **metrics})
    result = {
        "task": task,
        "framework": str(framework),
        "threads": base.threads,
        "steps": settings.measure.steps,
        "warmup_steps": settings.measure.warmup_steps,
        "batch_size": base.batch_size,
        "seed": settings.seeds[0],
        "cpu_bf16": cpu_bf16(),
        "modes": entries,
    }
    atomic_write_json(Path(out_file), result)
    return result
