"""The training job: the same model, data, initial weights, batch order and budget in either framework.

    crosstrain train --task iris --framework pytorch              # every seed in params' `seeds`
    crosstrain train --task iris --framework pytorch --seed 7     # one seed
    crosstrain train --task iris --framework tensorflow --set train.epochs=3
    crosstrain train --task images --framework pytorch --workers 2      # DDP under torchrun
    crosstrain train --task iris --framework pytorch --no-resume  # ignore (and drop) checkpoints

Read it as pytorch/examples' mnist/main.py: `train` resolves the settings once into a `Job`, sets
the framework up, and loops over the seeds; `crosstrain.training.seed` trains one seed (build the
model from the shared weights, `loop.fit`, publish), `crosstrain.training.checkpoint` saves and
resumes every epoch, `crosstrain.training.outcome` turns a finished seed into its files and MLflow
entries. The framework is reached only through its `crosstrain.backends.Backend`.

Every epoch ends with a checkpoint under checkpoints/<task>/<fw>/; a training started again with
the same params, data and code continues after the last complete epoch in the same MLflow run and
ends with the weights an unbroken run has (train.deterministic). SIGINT and SIGTERM stop training
before the next optimiser step (`crosstrain.distributed.signals`), mark the MLflow run KILLED and
raise `Interrupted`; nothing is written under `out_dir` for the unfinished seed.

A distributed run is this same function in every worker: the launcher (crosstrain.distributed.launch)
starts the workers, `train` reads the rank from the environment, each rank trains on its shard of
every global batch, and only rank 0 (the chief) talks to MLflow and writes `out_dir`: the other
ranks get a `NoTracker`.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrain import backends, devices, names, tracking
from crosstrain.backends import Backend
from crosstrain.config import Framework, ModelSpec, Settings, TrainConfig
from crosstrain.data.dataset import Split, load_meta, load_split
from crosstrain.distributed import env, shard
from crosstrain.distributed.env import World
from crosstrain.distributed.signals import stop_on_signals
from crosstrain.tracking import Tracking, lineage
from crosstrain.training import checkpoint


@dataclass(frozen=True)
class Job:
    """One task in one framework, resolved once: what every seed of the training shares."""

    task: str
    framework: Framework
    settings: Settings
    backend: Backend
    spec: ModelSpec
    budget: TrainConfig
    meta: dict
    train: Split
    val: Split
    prepared: Path
    out_dir: Path
    data_version: str  # the DVC hash of the prepared data (as in dvc.lock): what `dvc pull` restores
    world: World
    tracker: Tracking  # rank 0's; a NoTracker on every other rank
    ctx: Any = None  # the backend's distributed context, once `setup` has run

    @classmethod
    def resolve(cls, task: str, settings: Settings, framework: Framework | str, prepared: Path,
                out_dir: Path, tracker: Tracking | None = None) -> Job:
        """Validate the task once, read the prepared data once, pick the backend once.

        `tracker` (default: one on `settings.mlflow`'s store) is used on rank 0 only.
        """
        framework = Framework(framework)
        cfg = settings.task(task)
        world = env.read(framework)
        # The device once, for both frameworks' rule (crosstrain.devices): every step below gets it resolved.
        budget = devices.on_device(settings.train_for(task), world.local_rank)
        train, val = load_split(prepared, "train"), load_split(prepared, "val")
        shard.check(len(train), budget.batch_size, world.size)
        # Every rank computes the data version: each checks the checkpoint it resumes from.
        return cls(task=task, framework=framework, settings=settings, backend=backends.get(framework),
                   spec=cfg.model, budget=budget, meta=load_meta(prepared), train=train, val=val,
                   prepared=Path(prepared), out_dir=Path(out_dir), data_version=lineage.data_digest(prepared),
                   world=world, tracker=(tracker or tracking.tracker(settings.mlflow)) if world.is_chief
                   else tracking.NoTracker())

    @property
    def collective(self) -> str:
        """The collective backend the workers joined with (gloo, nccl, ring...; "none" in a world of 1)."""
        return str(getattr(self.ctx, "backend", "none"))

    def seed_dir(self, seed: int) -> Path:
        """Where seed `seed`'s model, train.json, history.json and fairness.json go."""
        return self.out_dir / names.seed_dir(seed)


def train(task: str, settings: Settings, framework: Framework | str, prepared: Path, out_dir: Path,
          seeds: list[int] | None = None, *, checkpoints: Path | None = None, resume: bool | None = None,
          mirror: bool = False, tracker: Tracking | None = None) -> list[dict]:
    """Train one task in one framework once per seed (default: every seed in `settings.seeds`).

    Each seed's native model, train.json, history.json and fairness.json go to `out_dir/seed-<s>/`,
    written atomically; after a run of every seed, directories of seeds no longer in params are
    removed. Returns the train.json of each seed. In a distributed run every worker calls this; ranks
    other than 0 return `[{"rank": r, ...}]` and write nothing.

    With `checkpoints` (a directory; `Layout.checkpoints`), each seed checkpoints every epoch into
    `checkpoints/seed-<s>/` and resumes from a matching checkpoint (see `checkpoint.SeedCheckpoints`
    for `resume` and `mirror`). Without, nothing is checkpointed. Runs are tracked by `tracker`
    (made by the caller: the CLI command or the Kubeflow component; default: params' store).
    """
    from crosstrain.training.seed import train_seed

    job = Job.resolve(task, settings, framework, prepared, out_dir, tracker)
    chosen = list(settings.seeds if seeds is None else seeds)
    budget, world = job.budget, job.world
    # Threads are pinned explicitly in every worker (torchrun would otherwise force 1), before the
    # runtime starts; dropout draws differ by rank, as they differ between the examples of one batch.
    job.backend.configure(budget.threads, chosen[0] + world.rank, budget.deterministic, budget.device)
    if checkpoints is not None and resume is False and world.is_chief:
        checkpoint.discard(Path(checkpoints))
    job = dataclasses.replace(job, ctx=job.backend.setup(world, budget.distributed, budget.device))
    try:
        with stop_on_signals() as stop:
            results = []
            for seed in chosen:
                policy = checkpoint.SeedCheckpoints(
                    checkpoints, seed, settings, job.data_version, resume=resume, chief=world.is_chief,
                    mirror=mirror, tracker=job.tracker)
                results.append(train_seed(job, seed, policy, stop))
    finally:
        job.backend.cleanup(job.ctx)
    if seeds is None and world.is_chief:
        _remove_other_seeds(job.out_dir, chosen)
    if checkpoints is not None and world.is_chief:
        checkpoint.finish(Path(checkpoints), [names.seed_dir(seed) for seed in chosen])
    return results


def _remove_other_seeds(out_dir: Path, seeds: list[int]) -> None:
    """Seed directories left by an earlier run with other `seeds` would be evaluated as if current."""
    keep = {names.seed_dir(seed) for seed in seeds}
    for path in out_dir.glob(f"{names.SEED_DIR_PREFIX}*"):
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path)
