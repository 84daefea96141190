"""One seed of a training job: build from the shared weights, fit, publish.

`train_seed` is the body of `crosstrain.training.job.train`'s loop: it finds the seed's checkpoint,
opens (or reopens) its MLflow run, builds the model in the job's backend from crosstrain's
numpy-drawn initial weights, reads the fairness record's framework half back from the live objects,
runs `crosstrain.training.loop.fit` with this module's `SeedHooks`, and hands the trained model to
`crosstrain.training.outcome`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from crosstrain import names
from crosstrain.distributed.env import World
from crosstrain.distributed.signals import Stop
from crosstrain.fairness import record as fairness
from crosstrain.models.spec import describe, initial_weights
from crosstrain.progress import epoch_progress
from crosstrain.resources import track_peak_memory
from crosstrain.training import checkpoint, outcome
from crosstrain.training.job import Job
from crosstrain.training.loop import History, Hooks, Interrupted, TrainStep, fit

log = logging.getLogger(__name__)

Advance = Callable[[dict[str, float]], None]


def train_seed(job: Job, seed: int, checkpoints: checkpoint.SeedCheckpoints, stop: Stop) -> dict:
    """Train seed `seed` (or copy back its finished model); its train.json (`{"rank", ...}` off rank 0)."""
    found = checkpoints.find()
    if found is not None and found.status == checkpoint.DONE and checkpoints.directory is not None \
            and (checkpoints.directory / checkpoint.FINAL_DIR).is_dir():
        # Trained already (DVC deleted the stage's outputs before re-running it): copy it back. Every
        # rank sees the same directory, so all of them skip the seed.
        if not job.world.is_chief:
            return {"rank": job.world.rank, "seed": seed}
        checkpoint.restore_final(checkpoints.directory, job.seed_dir(seed))
        log.info("seed %s: finished earlier (run %s); copied back from %s", seed, found.run_id,
                 checkpoints.directory)
        return json.loads((job.seed_dir(seed) / names.TRAIN_INFO_FILE).read_text())
    if found is not None and found.status != checkpoint.TRAINING:
        found = None
    # An `Interrupted` (a KeyboardInterrupt) leaving the run's context ends the MLflow run KILLED.
    with _run(job, seed, checkpoints, found) as run_id:
        result = _train(job, seed, run_id, checkpoints, stop, found)
    if checkpoints.directory is not None and job.world.is_chief:
        checkpoint.mark_done(checkpoints.directory, job.seed_dir(seed), checkpoints.key, run_id)
    return result


def _run(job: Job, seed: int, checkpoints: checkpoint.SeedCheckpoints,
         found: checkpoint.Checkpoint | None) -> contextlib.AbstractContextManager:
    """The seed's MLflow run: the checkpoint's own when resuming, else a new one."""
    if found is not None and found.run_id:
        return job.tracker.resume_run(found.run_id)
    tags = {names.TAG_TASK: job.task, names.TAG_FRAMEWORK: job.framework, names.TAG_SEED: seed,
            names.TAG_MODEL: describe(job.spec), names.TAG_DATA_DIGEST: job.data_version,
            names.TAG_MODE: job.budget.mode, names.TAG_KIND: names.KIND_TRAINING, **checkpoints.tags}
    return job.tracker.start_run(run_name=outcome.run_name(job, seed), tags=tags,
                                 params=outcome.run_params(job, seed), settings=job.settings)


def _train(job: Job, seed: int, run_id: str | None, checkpoints: checkpoint.SeedCheckpoints, stop: Stop,
           found: checkpoint.Checkpoint | None) -> dict:
    backend, budget, world = job.backend, job.budget, job.world
    backend.configure(budget.threads, seed + world.rank, budget.deterministic, budget.device)
    if found is None:
        table = job.prepared / "train.parquet"
        data = pd.read_parquet(table) if table.exists() else (job.train.x, job.train.y)
        job.tracker.log_dataset(data, name=f"{job.task}-prepared", source=str(job.prepared.absolute()),
                                digest=job.data_version)
    # Memory is measured from here, after imports and data loading, which both frameworks share; the
    # GPU's peak (None on the CPU) over the same region.
    backend.reset_device_memory(budget.device)
    with track_peak_memory() as memory:
        with backend.scope(job.ctx):
            model = backend.build_model(job.spec, job.meta, precision=budget.precision)
            # The same numpy-drawn initial weights in both frameworks, not each library's default.
            backend.set_weights(model, initial_weights(job.spec, job.meta, seed))
            # Read back out of the built model before any step: what the framework will start from.
            initial_digest = fairness.weights_digest(backend.get_weights(model))
            step = backend.make_train_step(model, budget, job.train.x[:1], job.ctx)
            readback = backend.fairness_readback(step, model)
        predict = backend.make_predict(model, execution=budget.execution)
        history, best = History(), None
        if found is not None:
            history, best = _restore(job, found, model, step)
            _log_missing_epochs(job, run_id, history)
            log.info("seed %s: resuming after epoch %d of %d in run %s", seed, len(history.epochs),
                     budget.epochs, run_id)
        with _progress(job, seed) as advance:
            hooks = SeedHooks(job, model, step, run_id, checkpoints=checkpoints, stop=stop, advance=advance)
            if not history.epochs:
                hooks.on_checkpoint(history, None)  # epoch 0: a run killed in its first epoch resumes in it
            for stats in history.epochs:
                advance(stats)
            try:
                history = fit(step, predict, job.train, job.val, cfg=budget, seed=seed, hooks=hooks,
                              world=world, history=history, best_state=best)
            except Interrupted as stopped:
                stopped.run_id = run_id
                raise
    device_peak = backend.peak_device_memory_mb(budget.device)
    digest = _check_same_weights(backend.get_weights(model), step, world)
    if not world.is_chief:
        return {"rank": world.rank, "seed": seed, names.WEIGHTS_SHA256: digest}
    assert memory.peak_mb is not None and memory.increase_mb is not None  # set when the region ended
    trained = outcome.Trained(model=model, history=history, peak_mb=memory.peak_mb,
                              increase_mb=memory.increase_mb, device_peak_mb=device_peak, readback=readback,
                              initial_digest=initial_digest, weights_digest=digest)
    return outcome.publish(job, seed, run_id, trained)


class SeedHooks(Hooks):
    """`fit`'s hooks for one seed: weights for early stopping, checkpoints, MLflow, progress, signals."""

    def __init__(self, job: Job, model: Any, step: TrainStep, run_id: str | None, *,
                 checkpoints: checkpoint.SeedCheckpoints, stop: Stop, advance: Advance) -> None:
        self.job, self.model, self.step, self.run_id = job, model, step, run_id
        self.checkpoints, self._stop, self.advance = checkpoints, stop, advance

    def snapshot(self) -> Any:
        """The model's neutral weights."""
        return self.job.backend.get_weights(self.model)

    def restore(self, state: Any) -> None:
        """Put the best epoch's weights back."""
        self.job.backend.set_weights(self.model, state)

    def on_checkpoint(self, history: History, best_state: Any) -> None:
        """Checkpoint the complete epoch (weights, optimiser and RNG state, history)."""
        if self.checkpoints.writes:
            backend = self.job.backend
            self.checkpoints.save(self.run_id, history.state(), backend.get_weights(self.model),
                                  backend.get_state(self.step, self.model), best_state)

    def on_epoch(self, epoch: int, stats: dict[str, float]) -> None:
        """Log the epoch's metrics (rank 0's tracker only) and advance the progress bar."""
        self.job.tracker.log_metrics(stats, step=epoch)
        self.advance(stats)

    def stop(self) -> int | None:
        """SIGINT or SIGTERM since training started."""
        return self._stop()


def _progress(job: Job, seed: int) -> contextlib.AbstractContextManager[Advance]:
    """rank 0's progress bar over the epochs; a silent one elsewhere."""
    if job.world.is_chief:
        return epoch_progress(f"train {job.task}/{job.framework} seed {seed}", job.budget.epochs)
    return _no_progress()


@contextlib.contextmanager
def _no_progress() -> Iterator[Advance]:
    yield lambda stats: None


def _restore(job: Job, found: checkpoint.Checkpoint, model: Any,
             step: TrainStep) -> tuple[History, dict[str, np.ndarray] | None]:
    """Put a checkpoint's weights, optimiser and RNG state back; returns (history, best weights)."""
    backend = job.backend
    backend.set_weights(model, found.group("weights"))
    state = found.group("state")
    if job.world.rank != 0:
        # The checkpoint holds rank 0's generator; the other ranks keep their own (seeded by rank),
        # so only models without dropout resume bit-identically on several workers.
        state = {k: v for k, v in state.items() if not k.startswith("rng/")} | {
            k: v for k, v in backend.get_state(step, model).items() if k.startswith("rng/")}
    backend.set_state(step, model, state)
    checkpoint.restore_python_numpy_rng(found.rng, found.arrays["rng/numpy"])
    best = found.group("best") or None
    return History.from_state(found.history), best


def _log_missing_epochs(job: Job, run_id: str | None, history: History) -> None:
    """Log the checkpointed epochs the run lacks: a checkpoint is written before its epoch is logged,
    so a process killed in between left that epoch's metrics unlogged (never logged twice)."""
    if run_id is None or not job.world.is_chief:
        return
    logged = {m.step for m in job.tracker.client().get_metric_history(run_id, names.TRAIN_LOSS)}
    for epoch, stats in enumerate(history.epochs):
        if epoch not in logged:
            job.tracker.log_metrics(stats, step=epoch)


def _check_same_weights(weights: dict, step: TrainStep, world: World) -> str:
    """The sha256 of the final weights; in a distributed run, an error unless every rank has the same.

    Data parallelism keeps one model: ranks that disagree would mean rank 0 saved only its own
    version. One all-reduce of a 48-bit slice of each rank's digest (exact in float64) tells.
    """
    digest = fairness.weights_digest(weights)
    if world.distributed:
        mine = float(int(digest[:12], 16))
        total = float(step.all_reduce(np.array([mine], dtype=np.float64))[0])
        if total != mine * world.size:
            raise RuntimeError(
                f"rank {world.rank}: the workers' final weights differ (data parallelism broke)")
    return digest
