"""What a finished seed leaves behind: its MLflow params and metrics, model, train.json and fairness record.

The names are the same for both frameworks (`crosstrain.names`); the figures come from the shared
loop's `History` and the process's memory, never from the framework's own bookkeeping, so the two
frameworks' runs can be compared column by column in the MLflow UI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crosstrain import names
from crosstrain.distributed import scaling
from crosstrain.fairness import record as fairness
from crosstrain.io import atomic_dir
from crosstrain.models.flops import flops_per_example, training_flops_per_example
from crosstrain.models.spec import describe
from crosstrain.training.job import Job
from crosstrain.training.loop import History

DATA_VERSION = "data_dvc_md5"  # train.json: the DVC hash of the prepared data the seed trained on


@dataclass(frozen=True)
class Trained:
    """A seed's trained model and what was measured and read back while training it."""

    model: Any
    history: History
    peak_mb: float
    increase_mb: float
    device_peak_mb: float | None  # peak GPU memory the framework allocated; None on the CPU
    readback: dict[str, Any]  # the backend's fairness read-back, taken before the first step
    initial_digest: str  # the initial weights as read back out of the built model
    weights_digest: str  # the final weights (the same on every rank)


def run_name(job: Job, seed: int) -> str:
    """The MLflow run's name, e.g. iris-pytorch-s0 (-w2 on two workers)."""
    return f"{job.task}-{job.framework}-s{seed}" + (f"-w{job.world.size}" if job.world.distributed else "")


def run_params(job: Job, seed: int) -> dict:
    """The MLflow params of a training run: identical names for both frameworks."""
    budget, cfg = job.budget, job.settings.tasks[job.task]
    return {
        "task": job.task,
        "framework": str(job.framework),
        "seed": seed,
        "split_seed": job.settings.seed,
        "model": describe(job.spec),
        "model_spec": json.dumps(job.spec.model_dump(), sort_keys=True),
        **budget.model_dump(exclude={"distributed"}),
        "mode": budget.mode,
        "limit": cfg.limit,
        "train_rows": job.meta["rows"]["train"],
        "data_digest": job.meta["digest"],
        scaling.WORLD_SIZE: job.world.size,
        scaling.BACKEND: job.collective,
        scaling.THREADS_PER_WORKER: budget.threads,
    }


def measured(job: Job, trained: Trained, param_count: int) -> dict[str, float]:
    """Time, throughput, memory and FLOP figures of the training (warm-up apart; see `History.speed`)."""
    history = trained.history
    figures = {
        names.TRAIN_TIME: history.train_time,
        names.PARAM_COUNT: param_count,
        **history.speed(),
        names.PEAK_RSS: trained.peak_mb,
        names.TRAIN_RSS: trained.increase_mb,
    }
    if trained.device_peak_mb is not None:  # not measured on the CPU (train.json says null)
        figures[names.PEAK_DEVICE_MEMORY] = trained.device_peak_mb
    figures[names.FLOPS_PER_EXAMPLE] = float(flops_per_example(job.spec, job.meta))
    figures[names.ACHIEVED_FLOPS] = training_flops_per_example(job.spec, job.meta) * \
        figures[names.TRAIN_THROUGHPUT] / 1e9
    return figures


def fairness_record(job: Job, seed: int, trained: Trained) -> dict:
    """This run's fairness record: the framework's read-back set-up plus what the shared loop saw."""
    from crosstrain import environment

    history = trained.history
    about = {"task": job.task, "framework": str(job.framework), "seed": seed,
             "versions": environment.versions()}
    shared = {
        "initial_weights": trained.initial_digest,
        "data.digest": job.meta["digest"],
        "world_size": job.world.size,
        "device.requested": job.settings.train_for(job.task).device,
        "device.resolved": job.budget.device,
        "timer.scope": fairness.TIMER_SCOPE,
        "timer.warmup_steps_excluded": len(history.warmup),
        "training.steps": history.steps,
        "training.examples": history.examples,
    }
    return fairness.build(about, trained.readback, shared, history.readback)


def publish(job: Job, seed: int, run_id: str | None, trained: Trained) -> dict:
    """Log the seed's metrics, model and fairness record; write its directory atomically; its train.json."""
    backend, world, history = job.backend, job.world, trained.history
    model = trained.model
    if world.distributed:
        # Save a plain copy: no mirrored variables or DDP hooks in the saved model.
        plain = backend.build_model(job.spec, job.meta, precision=job.budget.precision)
        backend.set_weights(plain, backend.get_weights(model))
        model = plain
    figures = measured(job, trained, backend.param_count(model))
    params = run_params(job, seed)
    reference = scaling.baseline(params, job.tracker) if world.distributed else None
    examples = len(job.train) * len(history.epochs)
    speed = scaling.metrics(examples, history.train_time, world.size, reference and reference[1])
    job.tracker.log_metrics({**figures, **speed})
    # Registered as the one pyfunc both frameworks share: raw inputs in, class names out. Imported here:
    # it loads mlflow.pyfunc, which the training path does not need until a run is tracked.
    from crosstrain.tracking import pyfunc

    inputs = pyfunc.Inputs.from_prepared(str(job.framework), job.meta, job.prepared)
    info = job.tracker.log_model(
        lambda: pyfunc.log_model(backend, model, inputs, inputs.example(job.prepared)))
    record = fairness_record(job, seed, trained)
    result = {
        "task": job.task,
        "framework": str(job.framework),
        "seed": seed,
        "run_id": run_id,
        "model_uri": info.model_uri if info is not None else None,
        "mode": job.budget.mode,
        "threads": job.budget.threads,
        **figures,
        "epochs": len(history.epochs),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "data_digest": job.meta["digest"],  # crosstrain's sha256 of the splits: evaluate checks it
        DATA_VERSION: job.data_version,      # DVC's md5 of the prepared directory (TAG_DATA_DIGEST)
        "deterministic": job.budget.deterministic,
        "device": job.budget.device,
        names.PEAK_DEVICE_MEMORY: trained.device_peak_mb,
        "final": history.last,
        scaling.WORLD_SIZE: world.size,
        names.WEIGHTS_SHA256: trained.weights_digest,
        **speed,
        **({scaling.BASELINE_RUN: reference[0]} if reference else {}),
        names.TAG_FAIRNESS_DIGEST: fairness.digest(record),
    }
    job.tracker.set_tags({names.TAG_FAIRNESS_DIGEST: result[names.TAG_FAIRNESS_DIGEST]})
    with atomic_dir(job.seed_dir(seed)) as tmp:
        backend.save(model, tmp)
        (tmp / names.HISTORY_FILE).write_text(json.dumps(history.epochs, indent=2) + "\n")
        (tmp / names.TRAIN_INFO_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        (tmp / names.FAIRNESS_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        job.tracker.log_artifacts(tmp / names.FAIRNESS_FILE, names.FAIRNESS_ARTIFACTS)
    return result
