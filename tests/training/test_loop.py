"""The shared epoch driver: batch order and what it records."""

from __future__ import annotations

import numpy as np

from crosstrain import names
from crosstrain.config import MLPSpec, TrainConfig
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.models import spec as neutral
from crosstrain.models import torch as torch_models
from crosstrain.training import torch as torch_training
from crosstrain.training.loop import batch_order, fit


def test_batch_order_is_a_deterministic_partition():
    # Given 103 examples in batches of 16
    batches = batch_order(103, 16, seed=42, epoch=0)
    # Then every example appears exactly once, in 7 batches, the last one short
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert [len(b) for b in batches] == [16] * 6 + [7]
    # And the order is a function of (seed, epoch) alone
    assert all(np.array_equal(a, b) for a, b in zip(batches, batch_order(103, 16, seed=42, epoch=0)))
    assert not np.array_equal(batches[0], batch_order(103, 16, seed=42, epoch=1)[0])
    assert not np.array_equal(batches[0], batch_order(103, 16, seed=43, epoch=0)[0])


def test_fit_records_every_epoch_and_learns(iris_prepared):
    # Given real iris and a small PyTorch MLP
    train, val = load_split(iris_prepared, "train"), load_split(iris_prepared, "val")
    spec = MLPSpec(hidden=[8])
    meta = load_meta(iris_prepared)
    model = torch_models.build_model(spec, meta)
    torch_models.set_weights(model, neutral.initial_weights(spec, meta, seed=0))
    step = torch_training.make_train_step(model, TrainConfig(learning_rate=0.05), train.x[:1])
    seen = []
    # When it trains for 5 epochs
    history = fit(step, torch_models.make_predict(model), train, val, epochs=5, batch_size=16, seed=0,
                  on_epoch=lambda epoch, stats: seen.append(epoch))
    # Then each epoch is recorded with every metric, the callback saw them in order, and loss fell
    assert seen == [0, 1, 2, 3, 4]
    assert [set(e) for e in history.epochs] == [set(names.EPOCH_METRICS)] * 5
    assert history.epochs[-1][names.TRAIN_LOSS] < history.epochs[0][names.TRAIN_LOSS]
    assert history.train_time == sum(e[names.EPOCH_TIME] for e in history.epochs) > 0
    assert 0.0 <= history.last[names.VAL_ACCURACY] <= 1.0
