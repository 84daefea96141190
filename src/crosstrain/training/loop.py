"""The epoch driver both frameworks share, so what is timed and in what order batches come is
identical by construction rather than by care.

Each framework supplies only `train_step(x, y) -> loss` (one optimiser update on one mini-batch)
and `predict(x) -> logits`; everything else here is numpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crosstrain import names
from crosstrain.data.dataset import Split
from crosstrain.evaluation.metrics import accuracy, cross_entropy

TrainStep = Callable[[np.ndarray, np.ndarray], object]
Predict = Callable[[np.ndarray], np.ndarray]
OnEpoch = Callable[[int, dict[str, float]], None]


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Mini-batch indices for one epoch, drawn with numpy from (seed, epoch) and fed to both frameworks."""
    permutation = np.random.default_rng([seed, epoch]).permutation(n)
    return [permutation[i : i + batch_size] for i in range(0, n, batch_size)]


@dataclass
class History:
    """Per-epoch metrics (names from `crosstrain.names.EPOCH_METRICS`) and the total training time."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    @property
    def train_time(self) -> float:
        return float(sum(e[names.EPOCH_TIME] for e in self.epochs))

    @property
    def last(self) -> dict[str, float]:
        return self.epochs[-1] if self.epochs else {}


def fit(
    train_step: TrainStep,
    predict: Predict,
    train: Split,
    val: Split,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    on_epoch: OnEpoch | None = None,
) -> History:
    """Run `epochs` epochs of mini-batch training and evaluate on `val` after each.

    The epoch timer covers exactly the optimiser steps, including TensorFlow's first-call trace,
    and excludes the validation pass and logging, in both frameworks alike.
    """
    history = History()
    for epoch in range(epochs):
        batches = batch_order(len(train), batch_size, seed, epoch)
        losses, sizes = [], []
        start = time.perf_counter()
        for idx in batches:
            losses.append(train_step(train.x[idx], train.y[idx]))
            sizes.append(len(idx))
        # Reading the losses forces any pending device work to finish before the clock stops.
        batch_losses = np.array([float(loss) for loss in losses])
        elapsed = time.perf_counter() - start
        train_logits = predict(train.x)
        val_logits = predict(val.x)
        stats = {
            names.TRAIN_LOSS: float(np.average(batch_losses, weights=sizes)),
            names.TRAIN_ACCURACY: accuracy(train_logits, train.y),
            names.VAL_LOSS: cross_entropy(val_logits, val.y),
            names.VAL_ACCURACY: accuracy(val_logits, val.y),
            names.EPOCH_TIME: elapsed,
        }
        history.epochs.append(stats)
        if on_epoch is not None:
            on_epoch(epoch, stats)
    return history
