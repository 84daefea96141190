"""The epoch driver both frameworks share, so what is timed, in what order batches come, how the
learning rate moves and when training stops are identical by construction rather than by care.

Each framework supplies only a `TrainStep` (one optimiser update on one mini-batch, a way to set the
learning rate, and a sum across workers) and `predict(x) -> logits`; everything else here is numpy.

Distributed runs use this same driver: every rank walks the same global batch order and trains on
its shard of each batch (`crosstrain.distributed.shard`), evaluates its shard of each split, and the
per-rank sums are added across workers once per epoch, after the clock has stopped. A world of 1 is
the single-process run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from crosstrain import names
from crosstrain.config import TrainConfig
from crosstrain.data.dataset import Split
from crosstrain.distributed.env import World
from crosstrain.distributed.shard import shard, weight
from crosstrain.evaluation.metrics import accuracy, cross_entropy
from crosstrain.fairness.record import indices_digest

Predict = Callable[[np.ndarray], np.ndarray]


class Interrupted(KeyboardInterrupt):
    """Training stopped at a step boundary because `stop()` said so (SIGINT or SIGTERM arrived).

    `epochs` is how many epochs were complete: the last checkpoint `on_checkpoint` wrote. Like
    KeyboardInterrupt (which it is, so no `except Exception` swallows it and MLflow runs end KILLED),
    it unwinds everything; the CLI turns it into exit status 128 + `signum`.
    """

    def __init__(self, signum: int, epochs: int) -> None:
        super().__init__(f"interrupted by signal {signum} after {epochs} complete epochs")
        self.signum, self.epochs = signum, epochs
        self.run_id: str | None = None  # the MLflow run it interrupted, once known


class TrainStep(Protocol):
    """What `crosstrain.training.tf` and `crosstrain.training.torch` build from a model."""

    def __call__(self, x: np.ndarray, y: np.ndarray, weight: float = 1.0) -> Any:
        """One update on this rank's shard; `weight` is the shard's share of the global batch.

        Returns the shard's mean loss times `weight`: summed over ranks, the global batch's mean loss.
        """

    def expect_batch_sizes(self, sizes: Collection[int]) -> None:
        """The shard sizes `fit` will feed, told before the first step (TensorFlow traces each once)."""

    def synchronize(self) -> None:
        """Wait until the steps so far have run on the device: called before every clock read that
        ends a timed region (GPUs run kernels asynchronously; on the CPU it returns at once)."""

    def set_learning_rate(self, lr: float) -> None:
        """The learning rate for the next steps (the loop sets it each epoch, from the schedule)."""

    def learning_rate(self) -> float:
        """The learning rate the framework's optimiser holds (read back, for the fairness record)."""

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        """`values` summed over all workers (the values themselves in a world of 1)."""


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Mini-batch indices for one epoch, drawn with numpy from (seed, epoch) and fed to both frameworks."""
    permutation = np.random.default_rng([seed, epoch]).permutation(n)
    return [permutation[i : i + batch_size] for i in range(0, n, batch_size)]


def learning_rate_at(epoch: int, cfg: TrainConfig) -> float:
    """The learning rate of `epoch`: linear warm-up over `warmup_epochs`, then constant or cosine to 0."""
    if epoch < cfg.warmup_epochs:
        return cfg.learning_rate * (epoch + 1) / cfg.warmup_epochs
    if cfg.schedule == "cosine":
        span = max(1, cfg.epochs - cfg.warmup_epochs)
        return cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    return cfg.learning_rate


def speed_figures(first_step_s: float, step_s: float, examples_per_s: float) -> dict[str, float]:
    """Compile time, step time and throughput under their shared names, for training runs and modes alike.

    The compile (or trace) time is the first step's duration less a steady step's: what the first
    call costs beyond the work every step does.
    """
    return {
        names.COMPILE_TIME: max(0.0, first_step_s - step_s),
        names.STEP_TIME: step_s * 1000.0,
        names.TRAIN_THROUGHPUT: examples_per_s,
    }


@dataclass
class History:
    """Per-epoch metrics (names from `crosstrain.names.EPOCH_METRICS`), and where early stopping landed.

    `warmup` holds the durations of the first `cfg.warmup_steps` optimiser steps, each timed alone:
    the first includes TensorFlow's trace (or XLA / torch.compile compilation), the rest warm caches.
    Throughput counts only the steps after them.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    warmup: list[float] = field(default_factory=list)
    warmup_examples: int = 0
    steps: int = 0
    examples: int = 0
    # Early stopping's state: the best val accuracy so far and the epochs waited since (a checkpoint
    # keeps them, with the best epoch's weights, so a resumed run stops where an unbroken one would).
    best_accuracy: float = -1.0
    waited: int = 0
    # Fairness fields read back while training (crosstrain.fairness): the learning rate the optimiser
    # held at the first, middle and last step, and digests of the indices fed in the first and last epoch.
    readback: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        """Everything above as JSON-compatible values (a checkpoint's manifest holds it)."""
        return {
            "epochs": self.epochs, "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
            "warmup": self.warmup, "warmup_examples": self.warmup_examples, "steps": self.steps,
            "examples": self.examples, "best_accuracy": self.best_accuracy, "waited": self.waited,
            "readback": self.readback,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        """The history `state()` saved in a checkpoint."""
        return cls(**state)

    @property
    def train_time(self) -> float:
        """Seconds inside the epoch timers, summed."""
        return float(sum(e[names.EPOCH_TIME] for e in self.epochs))

    def speed(self) -> dict[str, float]:
        """Steady throughput and step time (warm-up excluded), and the compile time apart from them."""
        steady_time = self.train_time - sum(self.warmup)
        steady_steps = self.steps - len(self.warmup)
        steady_examples = self.examples - self.warmup_examples
        if steady_steps <= 0 or steady_time <= 0:  # a budget no longer than the warm-up: count it all
            steady_time, steady_steps, steady_examples = self.train_time, self.steps, self.examples
        step = steady_time / max(1, steady_steps)
        first = self.warmup[0] if self.warmup else step
        return speed_figures(first, step, steady_examples / steady_time if steady_time > 0 else 0.0)


    @property
    def last(self) -> dict[str, float]:
        """The last complete epoch's metrics."""
        return self.epochs[-1] if self.epochs else {}


def _read_learning_rate(history: History, step: TrainStep, epoch: int, per_epoch: int, middle: int) -> None:
    """Record the learning rate the optimiser holds at the first, middle and last step.

    It is set once per epoch, so the value read at the start of the epoch holding a step is the one
    that step uses; "last" is overwritten each epoch and ends as the last epoch's.
    """
    held = step.learning_rate()
    first_step = epoch * per_epoch
    if epoch == 0:
        history.readback["optimizer.learning_rate.first_step"] = held
    if first_step <= middle < first_step + per_epoch:
        history.readback["optimizer.learning_rate.middle_step"] = held
    history.readback["optimizer.learning_rate.last_step"] = held


def predict_in_chunks(predict: Predict, split: Split, batch_size: int = 1024) -> np.ndarray:
    """Logits for a whole split, in chunks so large image or text splits fit in memory."""
    return np.concatenate([predict(split.x[i : i + batch_size]) for i in range(0, len(split), batch_size)])


def _score(predict: Predict, split: Split, world: World) -> tuple[float, float]:
    """(correct predictions, summed cross-entropy) on this rank's contiguous part of `split`."""
    part = shard(np.arange(len(split)), world.rank, world.size)
    if len(part) == 0:
        return 0.0, 0.0
    mine = Split(split.x[part], split.y[part])
    logits = predict_in_chunks(predict, mine)
    return accuracy(logits, mine.y) * len(mine), cross_entropy(logits, mine.y) * len(mine)


class Hooks:
    """What `fit` calls out to, by name; the defaults do nothing (a library caller needs none).

    The training job (`crosstrain.training.seed`) overrides them: weights out and back for early
    stopping, a checkpoint after each epoch, MLflow and the progress bar after that, and the signal
    check before each optimiser step.
    """

    def snapshot(self) -> Any:
        """The model's weights now (kept for the best epoch when early stopping is on)."""
        return None

    def restore(self, state: Any) -> None:
        """Put back weights `snapshot` returned."""

    def on_checkpoint(self, history: History, best_state: Any) -> None:
        """After every complete epoch, before `on_epoch`: save what a resumed run needs."""

    def on_epoch(self, epoch: int, stats: dict[str, float]) -> None:
        """After every complete epoch: its metrics (log them, advance a progress bar)."""

    def stop(self) -> int | None:
        """Asked before every optimiser step: a signal number ends training there."""
        return None


def fit(
    train_step: TrainStep,
    predict: Predict,
    train: Split,
    val: Split,
    *,
    cfg: TrainConfig,
    seed: int,
    hooks: Hooks | None = None,
    world: World | None = None,
    history: History | None = None,
    best_state: Any = None,
) -> History:
    """Run up to `cfg.epochs` epochs of mini-batch training, evaluating on `val` after each.

    The epoch timer covers exactly the optimiser steps, including TensorFlow's first-call trace,
    and excludes the evaluation passes and logging, in both frameworks alike. With
    `early_stopping_patience`, training stops once val accuracy has not improved for that many
    epochs, and `hooks.restore(hooks.snapshot())` of the best epoch puts its weights back.

    In a `world` of several workers each rank trains on its shard of every global batch and scores
    its part of each split; one all-reduce per epoch gives every rank the same global metrics, so
    all ranks stop at the same epoch.

    Resuming: pass the `history` (and the best epoch's `best_state`) of a checkpoint, with the model,
    optimiser and RNG states restored; training continues at epoch `len(history.epochs)`. The batch
    order is a pure function of (seed, epoch), so the epoch is the whole data-order position.
    `hooks.on_checkpoint(history, best_state)` runs after every complete epoch, before `hooks.on_epoch`.
    `hooks.stop()` is asked before every optimiser step; a signal number from it ends training there with
    `Interrupted` (the epoch under way is dropped: its checkpoint is the previous one).
    """
    world, hooks = world or World(), hooks or Hooks()
    history = history or History()
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    last = len(train) % cfg.batch_size
    train_step.expect_batch_sizes({len(shard(np.arange(n), rank, world.size))
                                   for n in {cfg.batch_size, last} - {0} for rank in range(world.size)})
    middle_step = cfg.epochs * per_epoch // 2
    for epoch in range(len(history.epochs), cfg.epochs):
        if history.stopped_early:
            break
        lr = learning_rate_at(epoch, cfg)
        train_step.set_learning_rate(lr)
        _read_learning_rate(history, train_step, epoch, per_epoch, middle_step)
        losses, sizes, fed = [], [], []
        start = time.perf_counter()
        for idx in batch_order(len(train), cfg.batch_size, seed, epoch):
            signum = hooks.stop()
            if signum:
                raise Interrupted(signum, len(history.epochs))
            part = shard(idx, world.rank, world.size)
            warming = history.steps < cfg.warmup_steps
            begun = time.perf_counter()
            losses.append(train_step(train.x[part], train.y[part], weight(len(part), len(idx))))
            if warming:
                # Timed alone (compilation is not averaged away); the device finishes before the clock stops.
                train_step.synchronize()
                losses[-1] = float(losses[-1])
                history.warmup.append(time.perf_counter() - begun)
                history.warmup_examples += len(idx)
            history.steps += 1
            history.examples += len(idx)
            sizes.append(len(idx))
            fed.append(idx)
        # The device's queued work finishes before the clock stops (reading the losses would wait too).
        train_step.synchronize()
        batch_losses = np.array([float(loss) for loss in losses])
        elapsed = time.perf_counter() - start
        order = indices_digest(fed)
        if epoch == 0:
            history.readback["batch_order.first_epoch"] = order
        history.readback["batch_order.last_epoch"] = order
        train_correct, _ = _score(predict, train, world)
        val_correct, val_loss = _score(predict, val, world)
        mine = [np.average(batch_losses, weights=sizes), train_correct, val_correct, val_loss]
        summed = train_step.all_reduce(np.array(mine, dtype=np.float64))
        train_loss, train_correct, val_correct, val_loss = summed
        stats = {
            names.TRAIN_LOSS: float(train_loss),
            names.TRAIN_ACCURACY: float(train_correct / len(train)),
            names.VAL_LOSS: float(val_loss / len(val)),
            names.VAL_ACCURACY: float(val_correct / len(val)),
            names.EPOCH_TIME: elapsed,
            names.LEARNING_RATE: lr,
        }
        history.epochs.append(stats)
        if stats[names.VAL_ACCURACY] > history.best_accuracy:
            history.best_accuracy, history.best_epoch, history.waited = stats[names.VAL_ACCURACY], epoch, 0
            if cfg.early_stopping_patience:
                best_state = hooks.snapshot()
        else:
            history.waited += 1
            if cfg.early_stopping_patience and history.waited >= cfg.early_stopping_patience:
                history.stopped_early = True
        hooks.on_checkpoint(history, best_state)
        hooks.on_epoch(epoch, stats)
    if history.stopped_early and best_state is not None:
        hooks.restore(best_state)
    return history
