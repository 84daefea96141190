"""The epoch driver both frameworks share, so what is timed, in what order batches come, how the
learning rate moves and when training stops are identical by construction rather than by care.

Each framework supplies only a `TrainStep` (one optimiser update on one mini-batch, plus a way to
set the learning rate) and `predict(x) -> logits`; everything else here is numpy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from crosstrain import names
from crosstrain.config import TrainConfig
from crosstrain.data.dataset import Split
from crosstrain.evaluation.metrics import accuracy, cross_entropy

Predict = Callable[[np.ndarray], np.ndarray]
OnEpoch = Callable[[int, dict[str, float]], None]


class TrainStep(Protocol):
    """What `crosstrain.training.tf` and `crosstrain.training.torch` build from a model."""

    def __call__(self, x: np.ndarray, y: np.ndarray) -> Any: ...

    def set_learning_rate(self, lr: float) -> None: ...


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


@dataclass
class History:
    """Per-epoch metrics (names from `crosstrain.names.EPOCH_METRICS`), and where early stopping landed."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def train_time(self) -> float:
        return float(sum(e[names.EPOCH_TIME] for e in self.epochs))

    @property
    def last(self) -> dict[str, float]:
        return self.epochs[-1] if self.epochs else {}


def _evaluate(predict: Predict, split: Split, batch_size: int = 1024) -> np.ndarray:
    """Logits for a whole split, in chunks so large image or text splits fit in memory."""
    return np.concatenate([predict(split.x[i : i + batch_size]) for i in range(0, len(split), batch_size)])


def fit(
    train_step: TrainStep,
    predict: Predict,
    train: Split,
    val: Split,
    *,
    cfg: TrainConfig,
    seed: int,
    on_epoch: OnEpoch | None = None,
    snapshot: Callable[[], Any] | None = None,
    restore: Callable[[Any], None] | None = None,
) -> History:
    """Run up to `cfg.epochs` epochs of mini-batch training, evaluating on `val` after each.

    The epoch timer covers exactly the optimiser steps, including TensorFlow's first-call trace,
    and excludes the evaluation passes and logging, in both frameworks alike. With
    `early_stopping_patience`, training stops once val accuracy has not improved for that many
    epochs, and `restore(snapshot())` of the best epoch puts its weights back.
    """
    history = History()
    best_accuracy, best_state, waited = -1.0, None, 0
    for epoch in range(cfg.epochs):
        lr = learning_rate_at(epoch, cfg)
        train_step.set_learning_rate(lr)
        losses, sizes = [], []
        start = time.perf_counter()
        for idx in batch_order(len(train), cfg.batch_size, seed, epoch):
            losses.append(train_step(train.x[idx], train.y[idx]))
            sizes.append(len(idx))
        # Reading the losses forces any pending device work to finish before the clock stops.
        batch_losses = np.array([float(loss) for loss in losses])
        elapsed = time.perf_counter() - start
        train_logits, val_logits = _evaluate(predict, train), _evaluate(predict, val)
        stats = {
            names.TRAIN_LOSS: float(np.average(batch_losses, weights=sizes)),
            names.TRAIN_ACCURACY: accuracy(train_logits, train.y),
            names.VAL_LOSS: cross_entropy(val_logits, val.y),
            names.VAL_ACCURACY: accuracy(val_logits, val.y),
            names.EPOCH_TIME: elapsed,
            names.LEARNING_RATE: lr,
        }
        history.epochs.append(stats)
        if on_epoch is not None:
            on_epoch(epoch, stats)
        if stats[names.VAL_ACCURACY] > best_accuracy:
            best_accuracy, history.best_epoch, waited = stats[names.VAL_ACCURACY], epoch, 0
            if cfg.early_stopping_patience and snapshot is not None:
                best_state = snapshot()
        else:
            waited += 1
            if cfg.early_stopping_patience and waited >= cfg.early_stopping_patience:
                history.stopped_early = True
                break
    if history.stopped_early and best_state is not None and restore is not None:
        restore(best_state)
    return history
