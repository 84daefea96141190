"""The train step: the same model, data, initial weights, batch order and budget in either framework.

    crosstrain train --task iris --framework pytorch              # every seed in params' `seeds`
    crosstrain train --task iris --framework pytorch --seed 7     # one seed
    crosstrain train --task iris --framework tensorflow --set train.epochs=3
    crosstrain train --task images --framework pytorch --workers 2      # DDP under torchrun
    crosstrain train --task iris --framework pytorch --no-resume  # ignore (and drop) checkpoints

Every epoch ends with a checkpoint (`crosstrain.training.checkpoint`) under checkpoints/<task>/<fw>/;
a training started again with the same params, data and code continues after the last complete
epoch in the same MLflow run and ends with the weights an unbroken run has (train.deterministic).
SIGINT and SIGTERM stop training before the next optimiser step, mark the MLflow run KILLED and
raise `Interrupted`; nothing is written under `out_dir` for the unfinished seed.

A distributed run is this same function in every worker: the launcher (crosstrain.distributed.launch)
starts the workers, `train` reads the rank from the environment, each rank trains on its shard of
every global batch, and only rank 0 (the chief) talks to MLflow and writes `out_dir`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from crosstrain import backends, names
from crosstrain.config import Framework, Settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.distributed import env, scaling, shard
from crosstrain.distributed.env import World
from crosstrain.errors import ConfigError
from crosstrain.fairness import record as fairness
from crosstrain.io import atomic_dir
from crosstrain.models.flops import flops_per_example, training_flops_per_example
from crosstrain.models.spec import describe, initial_weights
from crosstrain.progress import epoch_progress
from crosstrain.resources import track_peak_memory
from crosstrain.tracking import lineage, service
from crosstrain.training import checkpoint
from crosstrain.training.loop import History, Interrupted, fit

log = logging.getLogger(__name__)

DATA_VERSION = "data_dvc_md5"  # train.json: the DVC hash of the prepared data the seed trained on


def run_params(settings: Settings, task: str, framework: Framework, meta: dict, seed: int,
               world: World | None = None, backend: str = "none") -> dict:
    """The MLflow params of a training run: identical names for both frameworks."""
    cfg, world = settings.tasks[task], world or World()
    budget = settings.train_for(task)
    return {
        "task": task,
        "framework": str(framework),
        "seed": seed,
        "split_seed": settings.seed,
        "model": describe(cfg.model),
        "model_spec": json.dumps(cfg.model.model_dump(), sort_keys=True),
        **budget.model_dump(exclude={"distributed"}),
        "mode": budget.mode,
        "limit": cfg.limit,
        "train_rows": meta["rows"]["train"],
        "data_digest": meta["digest"],
        scaling.WORLD_SIZE: world.size,
        scaling.BACKEND: backend,
        scaling.THREADS_PER_WORKER: budget.threads,
    }


def train(task: str, settings: Settings, framework: Framework, prepared: Path, out_dir: Path,
          seeds: list[int] | None = None, checkpoints: Path | None = None,
          resume: bool | None = None, mirror: bool = False) -> list[dict]:
    """Train one task in one framework once per seed (default: every seed in `settings.seeds`).

    Each seed's native model, train.json and history.json go to `out_dir/seed-<s>/`, written
    atomically; after a run of every seed, directories of seeds no longer in params are removed.
    Returns the train.json of each seed. In a distributed run every worker calls this; ranks other
    than 0 return `[{"rank": r, ...}]` and write nothing.

    With `checkpoints` (a directory; `Layout.checkpoints`), each seed checkpoints every epoch into
    `checkpoints/seed-<s>/` and resumes from a matching checkpoint: `resume=None` resumes when the
    checkpoint's params, data and code match and starts over otherwise; True makes a mismatch an
    error; False drops every checkpoint first. Without, nothing is checkpointed.

    `mirror` also uploads each checkpoint to its MLflow run's artifacts (CHECKPOINT_ARTIFACTS) and,
    with no local checkpoint, downloads the newest unfinished run's with the same key: how a retried
    Kubeflow pod, whose local disk is new, resumes (the artifact store is the durable storage).
    """
    framework = Framework(framework)
    settings.task(task)
    chosen = list(settings.seeds if seeds is None else seeds)
    meta = load_meta(prepared)
    train_split, val_split = load_split(prepared, "train"), load_split(prepared, "val")

    trainer = backends.training(framework)
    budget = settings.train_for(task)
    world = env.read(framework)
    shard.check(len(train_split), budget.batch_size, world.size)
    # Threads are pinned explicitly in every worker (torchrun would otherwise force 1), before the
    # runtime starts; dropout draws differ by rank, as they differ between the examples of one batch.
    trainer.configure(budget.threads, chosen[0] + world.rank, budget.deterministic)
    # The DVC hash of the data (as in dvc.lock): the runs' dataset digest, what `dvc pull` restores.
    # Every rank computes it: each rank checks the checkpoint it resumes from.
    data_version = lineage.data_digest(prepared)
    if checkpoints is not None and resume is False and world.is_chief:
        checkpoint.discard(Path(checkpoints))
    ctx = trainer.setup(world, budget.distributed)
    try:
        with _stop_on_signals() as stop:
            results = [
                _train(task, settings, framework, prepared, Path(out_dir) / names.seed_dir(seed), seed,
                       meta, train_split, val_split, ctx, data_version,
                       _Checkpoints(checkpoints, seed, settings, data_version, resume, world.is_chief,
                                    mirror),
                       stop)
                for seed in chosen
            ]
    finally:
        trainer.cleanup(ctx)
    if seeds is None and world.is_chief:
        _remove_other_seeds(Path(out_dir), chosen)
    if checkpoints is not None and world.is_chief:
        checkpoint.finish(Path(checkpoints), [names.seed_dir(seed) for seed in chosen])
    return results


class _Checkpoints:
    """One seed's checkpoint directory, its key, and what to do with a checkpoint found there."""

    def __init__(self, root: Path | None, seed: int, settings: Settings, data_version: str,
                 resume: bool | None, chief: bool, mirror: bool = False) -> None:
        self.directory = None if root is None else Path(root) / names.seed_dir(seed)
        self.key = checkpoint.key(settings, seed, data_version) if root is not None else {}
        self.resume, self.chief, self.settings = resume, chief, settings
        self.mirror = mirror and root is not None and chief

    @property
    def writes(self) -> bool:
        """Whether this process writes checkpoints (rank 0, with a directory)."""
        return self.directory is not None and self.chief

    @property
    def tags(self) -> dict[str, str]:
        return {names.TAG_CHECKPOINT_KEY: checkpoint.key_hash(self.key)} if self.key else {}

    def find(self) -> checkpoint.Checkpoint | None:
        """The checkpoint to continue from (training or done), or None to start afresh."""
        if self.directory is None or self.resume is False:
            return None
        if self.mirror and not (self.directory / checkpoint.MANIFEST).is_file():
            self._download()
        found = checkpoint.load(self.directory)
        if found is None or found.status == checkpoint.COMPLETE:
            return None
        if found.key != self.key:
            differs = ", ".join(k.removesuffix("_digest").removesuffix("_hash") for k in self.key
                                if found.key.get(k) != self.key[k])
            if self.resume:
                raise ConfigError(f"the checkpoint in {self.directory} was made with other {differs}: "
                                  "rerun with --no-resume to start over")
            log.warning("not resuming from %s: other %s", self.directory, differs)
            return None
        return found

    def save(self, run_id, history: History, weights, state, best) -> None:
        if self.writes:
            checkpoint.save(self.directory, key=self.key, run_id=run_id, history=history.state(),
                            weights=weights, state=state, best=best)
            if self.mirror:
                for path in checkpoint.state_files(self.directory):
                    service.log_artifacts(path, names.CHECKPOINT_ARTIFACTS)

    def _download(self) -> None:
        """The newest unfinished run with this key's mirrored checkpoint, into `directory` (if any)."""
        experiment = service.connect(self.settings.mlflow)
        client = service.client(self.settings.mlflow)
        found = client.search_runs(
            [experiment], order_by=["attributes.start_time DESC"], max_results=1,
            filter_string=(f"tags.`{names.TAG_CHECKPOINT_KEY}` = '{checkpoint.key_hash(self.key)}' "
                           "and attributes.status != 'FINISHED'"))
        if not found:
            return
        run_id = found[0].info.run_id
        with tempfile.TemporaryDirectory() as scratch:
            try:
                client.download_artifacts(run_id, names.CHECKPOINT_ARTIFACTS, scratch)
            except Exception as err:  # noqa: BLE001 - no mirror yet (killed before epoch 0 was saved)
                log.warning("run %s has no checkpoint to resume from: %s", run_id, err)
                return
            fetched = Path(scratch) / names.CHECKPOINT_ARTIFACTS
            self.directory.mkdir(parents=True, exist_ok=True)
            for path in sorted(fetched.iterdir(), key=lambda p: p.name == checkpoint.MANIFEST):
                shutil.copy2(path, self.directory / path.name)  # the manifest last: it names the state
        log.info("resuming from the checkpoint mirrored in MLflow run %s", run_id)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator:
    """Yield `stop() -> signum | None`: SIGINT or SIGTERM received since entering (then the previous
    handler is back, so a second Ctrl-C interrupts at once). Outside the main thread, never."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum, frame) -> None:
        received.append(signum)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield lambda: received[0] if received else None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _remove_other_seeds(out_dir: Path, seeds: list[int]) -> None:
    """Seed directories left by an earlier run with other `seeds` would be evaluated as if current."""
    keep = {names.seed_dir(seed) for seed in seeds}
    for path in out_dir.glob(f"{names.SEED_DIR_PREFIX}*"):
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path)


def _train(task, settings, framework, prepared, out_dir, seed, meta, train_split, val_split, ctx,
           data_version, checkpoints: _Checkpoints, stop) -> dict:
    found = checkpoints.find()
    if found is not None and found.status == checkpoint.DONE and \
            (checkpoints.directory / checkpoint.FINAL_DIR).is_dir():
        # Trained already (DVC deleted the stage's outputs before re-running it): copy it back. Every
        # rank sees the same directory, so all of them skip the seed.
        if not ctx.world.is_chief:
            return {"rank": ctx.world.rank, "seed": seed}
        checkpoint.restore_final(checkpoints.directory, out_dir)
        log.info("seed %s: finished earlier (run %s); copied back from %s", seed, found.run_id,
                 checkpoints.directory)
        return json.loads((out_dir / names.TRAIN_INFO_FILE).read_text())
    if found is not None and found.status != checkpoint.TRAINING:
        found = None
    # An `Interrupted` (a KeyboardInterrupt) leaving the run's context ends the MLflow run KILLED.
    return _train_seed(task, settings, framework, prepared, out_dir, seed, meta, train_split,
                       val_split, ctx, data_version, checkpoints, stop, found)


def _train_seed(task, settings, framework, prepared, out_dir, seed, meta, train_split, val_split, ctx,
                data_version, checkpoints: _Checkpoints, stop, found) -> dict:
    cfg, budget, world = settings.task(task), settings.train_for(task), ctx.world
    trainer, models = backends.training(framework), backends.models(framework)
    trainer.configure(budget.threads, seed + world.rank, budget.deterministic)
    tags = {names.TAG_TASK: task, names.TAG_FRAMEWORK: framework, names.TAG_SEED: seed,
            names.TAG_MODEL: describe(cfg.model), names.TAG_DATA_DIGEST: data_version,
            names.TAG_MODE: budget.mode, names.TAG_KIND: names.KIND_TRAINING, **checkpoints.tags}
    params = run_params(settings, task, framework, meta, seed, world, ctx.backend)
    # MLflow, the progress bar and out_dir are rank 0's alone.
    chief = world.is_chief
    if not chief:
        run = contextlib.nullcontext(found.run_id if found else None)
    elif found is not None and found.run_id:
        run = service.resume_run(settings.mlflow, found.run_id)
    else:
        run = service.start_run(settings.mlflow, run_name=_run_name(task, framework, seed, world),
                                tags=tags, params=params, settings=settings)
    with run as run_id:
        if chief and found is None:
            table = Path(prepared) / "train.parquet"
            data = pd.read_parquet(table) if table.exists() else (train_split.x, train_split.y)
            service.log_dataset(data, name=f"{task}-prepared", source=str(Path(prepared).absolute()),
                                digest=data_version)
        # Memory is measured from here, after imports and data loading, which both frameworks share.
        with track_peak_memory() as memory:
            with trainer.scope(ctx):
                model = models.build_model(cfg.model, meta, precision=budget.precision)
                # The same numpy-drawn initial weights in both frameworks, not each library's default.
                models.set_weights(model, initial_weights(cfg.model, meta, seed))
                # Read back out of the built model before any step: what the framework will start from.
                initial_digest = fairness.weights_digest(models.get_weights(model))
                step = trainer.make_train_step(model, budget, train_split.x[:1], ctx)
                readback = trainer.fairness_readback(step, model)
            predict = models.make_predict(model, execution=budget.execution)
            history, best = History(), None
            if found is not None:
                history, best = _restore(found, model, step, models, trainer, world)
                if chief:
                    _log_missing_epochs(settings, run_id, history)
                log.info("seed %s: resuming after epoch %d of %d in run %s", seed, len(history.epochs),
                         budget.epochs, run_id)

            def on_checkpoint(history: History, best) -> None:
                if not checkpoints.writes:
                    return
                checkpoints.save(run_id, history, models.get_weights(model), trainer.get_state(step, model),
                                 best)

            if not history.epochs:
                on_checkpoint(history, None)  # epoch 0: a run killed in its first epoch resumes in its run
            progress = (epoch_progress(f"train {task}/{framework} seed {seed}", budget.epochs) if chief
                        else _no_progress())
            with progress as advance:
                for stats in history.epochs:
                    advance(stats)

                def on_epoch(epoch: int, stats: dict[str, float]) -> None:
                    if chief:
                        service.log_metrics(stats, step=epoch)
                    advance(stats)

                try:
                    history = fit(step, predict, train_split, val_split, cfg=budget, seed=seed,
                                  on_epoch=on_epoch, snapshot=lambda: models.get_weights(model),
                                  restore=lambda weights: models.set_weights(model, weights), world=world,
                                  history=history, best_state=best, on_checkpoint=on_checkpoint, stop=stop)
                except Interrupted as stopped:
                    stopped.run_id = run_id
                    raise
        digest = _check_same_weights(models.get_weights(model), step, world)
        if not chief:
            return {"rank": world.rank, "seed": seed, names.WEIGHTS_SHA256: digest}
        if world.distributed:
            # Save a plain copy: no mirrored variables or DDP hooks in the saved model.
            plain = models.build_model(cfg.model, meta, precision=budget.precision)
            models.set_weights(plain, models.get_weights(model))
            model = plain
        param_count = models.param_count(model)
        reference = scaling.baseline(params) if world.distributed else None
        examples = len(train_split) * len(history.epochs)
        speed = scaling.metrics(examples, history.train_time, world.size, reference and reference[1])
        measured = {
            names.TRAIN_TIME: history.train_time,
            names.PARAM_COUNT: param_count,
            **history.speed(),
            names.PEAK_RSS: memory.peak_mb,
            names.TRAIN_RSS: memory.increase_mb,
        }
        forward = flops_per_example(cfg.model, meta)
        measured[names.FLOPS_PER_EXAMPLE] = float(forward)
        measured[names.ACHIEVED_FLOPS] = training_flops_per_example(cfg.model, meta) * \
            measured[names.TRAIN_THROUGHPUT] / 1e9
        service.log_metrics({**measured, **speed})
        info = service.log_model(lambda: models.log_model(model, train_split.x[:5], backends.pip_requirements(framework)))
        result = {
            "task": task,
            "framework": str(framework),
            "seed": seed,
            "run_id": run_id,
            "model_uri": info.model_uri,
            "mode": budget.mode,
            "threads": budget.threads,
            **measured,
            "epochs": len(history.epochs),
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "data_digest": meta["digest"],  # crosstrain's sha256 of the splits: evaluate checks it
            DATA_VERSION: data_version,        # DVC's md5 of the prepared directory (TAG_DATA_DIGEST)
            "deterministic": budget.deterministic,
            "final": history.last,
            scaling.WORLD_SIZE: world.size,
            names.WEIGHTS_SHA256: digest,
            **speed,
            **({scaling.BASELINE_RUN: reference[0]} if reference else {}),
        }
        record = _fairness_record(task, framework, seed, meta, world, readback, initial_digest, history)
        result[names.TAG_FAIRNESS_DIGEST] = fairness.digest(record)
        service.set_tags({names.TAG_FAIRNESS_DIGEST: result[names.TAG_FAIRNESS_DIGEST]})
        with atomic_dir(out_dir) as tmp:
            models.save(model, tmp)
            (tmp / names.HISTORY_FILE).write_text(json.dumps(history.epochs, indent=2) + "\n")
            (tmp / names.TRAIN_INFO_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
            (tmp / names.FAIRNESS_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
            service.log_artifacts(tmp / names.FAIRNESS_FILE, names.FAIRNESS_ARTIFACTS)
    if checkpoints.directory is not None:
        checkpoint.mark_done(checkpoints.directory, out_dir, checkpoints.key, run_id)
    return result


def _fairness_record(task: str, framework: Framework, seed: int, meta: dict, world: World, readback: dict,
                     initial_digest: str, history: History) -> dict:
    """This run's fairness record: the framework's read-back set-up plus what the shared loop saw."""
    from crosstrain import environment

    about = {"task": task, "framework": str(framework), "seed": seed,
             "versions": environment.versions()}
    shared = {
        "initial_weights": initial_digest,
        "data.digest": meta["digest"],
        "world_size": world.size,
        "timer.scope": fairness.TIMER_SCOPE,
        "timer.warmup_steps_excluded": len(history.warmup),
        "training.steps": history.steps,
        "training.examples": history.examples,
    }
    return fairness.build(about, readback, shared, history.readback)


def _restore(found: checkpoint.Checkpoint, model, step, models, trainer, world: World):
    """Put a checkpoint's weights, optimiser and RNG state back; returns (history, best weights)."""
    models.set_weights(model, found.group("weights"))
    state = found.group("state")
    if world.rank != 0:
        # The checkpoint holds rank 0's generator; the other ranks keep their own (seeded by rank),
        # so only models without dropout resume bit-identically on several workers.
        state = {k: v for k, v in state.items() if not k.startswith("rng/")} | {
            k: v for k, v in trainer.get_state(step, model).items() if k.startswith("rng/")}
    trainer.set_state(step, model, state)
    checkpoint.restore_python_numpy_rng(found.rng, found.arrays["rng/numpy"])
    best = found.group("best") or None
    return History.from_state(found.history), best


def _log_missing_epochs(settings: Settings, run_id: str, history: History) -> None:
    """Log the checkpointed epochs the run lacks: a checkpoint is written before its epoch is logged,
    so a process killed in between left that epoch's metrics unlogged (never logged twice)."""
    history_of = service.client(settings.mlflow).get_metric_history(run_id, names.TRAIN_LOSS)
    logged = {m.step for m in history_of}
    for epoch, stats in enumerate(history.epochs):
        if epoch not in logged:
            service.log_metrics(stats, step=epoch)


def _check_same_weights(weights: dict, step, world: World) -> str:
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


def _run_name(task: str, framework: Framework, seed: int, world: World) -> str:
    return f"{task}-{framework}-s{seed}" + (f"-w{world.size}" if world.distributed else "")


@contextlib.contextmanager
def _no_progress():
    yield lambda stats: None
