"""Architecture parity: one spec, two frameworks, the same function.

Fairness is the product: if the two models differed in size or in what they compute from the same
weights, every comparison crosstrain reports would be comparing different things.
"""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain.config import MLPSpec, SoftmaxSpec, TrainConfig
from crosstrain.models import spec as neutral
from crosstrain.models import tf as tf_models
from crosstrain.models import torch as torch_models
from crosstrain.training import tf as tf_training
from crosstrain.training import torch as torch_training
from crosstrain.training.loop import batch_order

SPECS = [SoftmaxSpec(), MLPSpec(hidden=[16]), MLPSpec(hidden=[32, 8], activation="tanh")]
META = {
    "modality": "table",
    "features": ["sepal length", "sepal width", "petal length", "petal width"],
    "classes": ["setosa", "versicolor", "virginica"],
    "feature_mean": [5.8, 3.0, 3.7, 1.2],
    "feature_std": [0.8, 0.4, 1.7, 0.7],
}


def both(spec):
    return (
        tf_models.build_model(spec, META),
        torch_models.build_model(spec, META),
    )


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    from sklearn.datasets import load_iris

    return load_iris().data.astype(np.float32)


@pytest.mark.parametrize("spec", SPECS, ids=neutral.describe)
def test_same_parameter_count(spec):
    # Given one spec / When both frameworks build it
    keras_model, torch_model = both(spec)
    # Then they count the same trainable parameters, and that is what the spec predicts
    expected = neutral.param_count(spec, META)
    assert tf_models.param_count(keras_model) == torch_models.param_count(torch_model) == expected


@pytest.mark.parametrize("spec", SPECS, ids=neutral.describe)
def test_shared_initial_weights_give_the_same_outputs(spec, features):
    # Given both models loaded with crosstrain's numpy-drawn initial weights
    keras_model, torch_model = both(spec)
    weights = neutral.initial_weights(spec, META, seed=7)
    tf_models.set_weights(keras_model, weights)
    torch_models.set_weights(torch_model, weights)
    # When both predict on real iris features
    # Then the logits agree to float32 precision
    np.testing.assert_allclose(
        tf_models.predict_logits(keras_model, features),
        torch_models.predict_logits(torch_model, features),
        atol=1e-5,
    )


@pytest.mark.parametrize("spec", SPECS, ids=neutral.describe)
def test_weights_copied_from_keras_to_torch_agree(spec, features):
    # Given a Keras model with Keras' own random initialisation
    keras_model, torch_model = both(spec)
    # When its weights are copied into the PyTorch model through the neutral layout
    torch_models.set_weights(torch_model, tf_models.get_weights(keras_model))
    # Then both compute the same function, and the weights read back unchanged
    np.testing.assert_allclose(
        tf_models.predict_logits(keras_model, features),
        torch_models.predict_logits(torch_model, features),
        atol=1e-5,
    )
    keras_weights, torch_weights = tf_models.get_weights(keras_model), torch_models.get_weights(torch_model)
    assert keras_weights.keys() == torch_weights.keys()
    for name in keras_weights:
        np.testing.assert_array_equal(keras_weights[name], torch_weights[name])


def test_initial_weights_depend_on_the_seed_only():
    spec = MLPSpec(hidden=[8])
    a = neutral.initial_weights(spec, META, seed=1)
    b = neutral.initial_weights(spec, META, seed=1)
    c = neutral.initial_weights(spec, META, seed=2)
    assert a.keys() == b.keys() == c.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["dense_0/kernel"], c["dense_0/kernel"])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_same_updates_give_the_same_trajectory(optimizer, features):
    # Given identical models, optimiser settings and mini-batches in both frameworks
    from sklearn.datasets import load_iris

    labels = load_iris().target.astype(np.int64)
    spec = MLPSpec(hidden=[16])
    cfg = TrainConfig(optimizer=optimizer, learning_rate=0.01, momentum=0.9 if optimizer == "sgd" else 0.0)
    keras_model, torch_model = both(spec)
    weights = neutral.initial_weights(spec, META, seed=3)
    tf_models.set_weights(keras_model, weights)
    torch_models.set_weights(torch_model, weights)
    tf_step = tf_training.make_train_step(keras_model, cfg, features[:1])
    torch_step = torch_training.make_train_step(torch_model, cfg, features[:1])
    # When both take the same 30 optimiser steps
    tf_losses, torch_losses = [], []
    for epoch in range(3):
        for idx in batch_order(len(labels), 16, seed=3, epoch=epoch)[:10]:
            tf_losses.append(float(tf_step(features[idx], labels[idx])))
            torch_losses.append(float(torch_step(features[idx], labels[idx])))
    # Then the losses and the final weights agree to float32 noise
    np.testing.assert_allclose(tf_losses, torch_losses, rtol=1e-4, atol=1e-5)
    keras_weights, torch_weights = tf_models.get_weights(keras_model), torch_models.get_weights(torch_model)
    for name in keras_weights:
        np.testing.assert_allclose(keras_weights[name], torch_weights[name], atol=1e-4)
    assert tf_losses[-1] < tf_losses[0]  # and training did something


def test_training_gains_keep_the_frameworks_in_step(iris_prepared):
    # Given warm-up + cosine schedule, label smoothing and gradient clipping, identically configured
    from crosstrain.data.dataset import load_meta, load_split
    from crosstrain.training.loop import fit

    meta = load_meta(iris_prepared)
    train, val = load_split(iris_prepared, "train"), load_split(iris_prepared, "val")
    spec = MLPSpec(hidden=[16])
    cfg = TrainConfig(epochs=4, batch_size=16, learning_rate=0.02, schedule="cosine", warmup_epochs=1,
                      label_smoothing=0.1, clip_norm=0.5)
    histories = []
    for models, training in ((tf_models, tf_training), (torch_models, torch_training)):
        model = models.build_model(spec, meta)
        models.set_weights(model, neutral.initial_weights(spec, meta, seed=5))
        step = training.make_train_step(model, cfg, train.x[:1])
        histories.append(fit(step, models.make_predict(model), train, val, cfg=cfg, seed=5))
    # When both train / Then every epoch's losses and learning rate agree
    tf_history, torch_history = histories
    for a, b in zip(tf_history.epochs, torch_history.epochs, strict=True):
        assert a["learning_rate"] == b["learning_rate"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
