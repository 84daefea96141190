"""TensorFlow's train step: a `tf.function` over Keras 3 layers with `optimizer.apply`, as in the
keras-io custom-training-loop guide (not `model.fit`, which fails under MultiWorkerMirroredStrategy).

Mirrors `crosstrain.training.torch`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import crosstrain.models.tf  # noqa: E402,F401  (sets KERAS_BACKEND before keras is imported)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from crosstrain.config import TrainConfig  # noqa: E402
from crosstrain.training.optim import ADAM_EPSILON  # noqa: E402


def configure(threads: int, seed: int) -> None:
    """Pin thread pools and seed TensorFlow, the same counts PyTorch gets.

    Thread pools are fixed once TensorFlow has run an op; a second call in the same process (tests,
    or evaluate after train) keeps the first setting, as PyTorch's inter-op pool does.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    keras.utils.set_random_seed(seed)


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """The configured optimiser with every hyperparameter set explicitly (defaults differ by framework)."""
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=cfg.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=ADAM_EPSILON)
    return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum)


def make_train_step(model: keras.Model, cfg: TrainConfig, example: np.ndarray):
    """A compiled `step(x, y) -> loss` doing one optimiser update on a numpy mini-batch."""
    optimizer = make_optimizer(cfg)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # One signature with a free batch dimension: the short last batch must not trigger a retrace.
    signature = [tf.TensorSpec([None, *example.shape[1:]], tf.float32), tf.TensorSpec([None], tf.int64)]

    @tf.function(input_signature=signature)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return lambda x, y: step(tf.constant(x), tf.constant(y))
