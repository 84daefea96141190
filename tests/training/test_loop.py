"""The shared epoch driver: batch order and what it records."""

from __future__ import annotations

import numpy as np

from crosstrain import names
from crosstrain.config import MLPSpec, TrainConfig
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.models import spec as neutral
from crosstrain.models import torch as torch_models
from crosstrain.training import torch as torch_training
from crosstrain.training.loop import Hooks, batch_order, fit


def test_batch_order_is_a_deterministic_partition():
    # Given 103 examples in batches of 16
    batches = batch_order(103, 16, seed=42, epoch=0)
    # Then every example appears exactly once, in 7 batches, the last one short
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert [len(b) for b in batches] == [16] * 6 + [7]
    # And the order is a function of (seed, epoch) alone
    again = batch_order(103, 16, seed=42, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
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

    class Seen(Hooks):
        def on_epoch(self, epoch, stats):
            seen.append(epoch)

    # When it trains for 5 epochs
    history = fit(step, torch_models.make_predict(model), train, val,
                  cfg=TrainConfig(epochs=5, batch_size=16),
                  seed=0, hooks=Seen())
    # Then each epoch is recorded with every metric, the callback saw them in order, and loss fell
    assert seen == [0, 1, 2, 3, 4]
    assert [set(e) for e in history.epochs] == [set(names.EPOCH_METRICS)] * 5
    assert history.epochs[-1][names.TRAIN_LOSS] < history.epochs[0][names.TRAIN_LOSS]
    assert history.train_time == sum(e[names.EPOCH_TIME] for e in history.epochs) > 0
    assert 0.0 <= history.last[names.VAL_ACCURACY] <= 1.0


def test_learning_rate_schedule():
    from crosstrain.training.loop import learning_rate_at

    constant = TrainConfig(epochs=10, learning_rate=0.1)
    assert [learning_rate_at(e, constant) for e in (0, 9)] == [0.1, 0.1]
    # Warm-up climbs linearly to the base rate, then cosine decays towards zero
    cosine = TrainConfig(epochs=10, learning_rate=0.1, schedule="cosine", warmup_epochs=2)
    rates = [learning_rate_at(e, cosine) for e in range(10)]
    assert rates[:3] == [0.05, 0.1, 0.1]
    assert all(a > b for a, b in zip(rates[2:], rates[3:], strict=False))
    assert rates[-1] < 0.01


def test_early_stopping_restores_the_best_epoch(iris_prepared):
    # Given a model that reaches its best validation accuracy early and then plateaus
    train, val = load_split(iris_prepared, "train"), load_split(iris_prepared, "val")
    meta = load_meta(iris_prepared)
    spec = MLPSpec(hidden=[8])
    model = torch_models.build_model(spec, meta)
    torch_models.set_weights(model, neutral.initial_weights(spec, meta, seed=0))
    cfg = TrainConfig(epochs=200, batch_size=16, learning_rate=0.05, early_stopping_patience=3)
    predict = torch_models.make_predict(model)
    class Weights(Hooks):
        def snapshot(self):
            return torch_models.get_weights(model)

        def restore(self, state):
            torch_models.set_weights(model, state)

    # When it trains with patience 3
    step = torch_training.make_train_step(model, cfg, train.x[:1])
    history = fit(step, predict, train, val, cfg=cfg, seed=0,
                  hooks=Weights())
    # Then it stops well before 200 epochs, 3 epochs after the best one, with the best weights back
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 4
    best = history.epochs[history.best_epoch][names.VAL_ACCURACY]
    assert max(e[names.VAL_ACCURACY] for e in history.epochs) == best
    from crosstrain.evaluation.metrics import accuracy

    assert accuracy(predict(val.x), val.y) == best
