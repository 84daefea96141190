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
    """The configured optimiser with every hyperparameter set explicitly (defaults differ by framework).

    `global_clipnorm` rescales all gradients together when their joint L2 norm exceeds it, as
    `torch.nn.utils.clip_grad_norm_` does.
    """
    clip = {"global_clipnorm": cfg.clip_norm} if cfg.clip_norm else {}
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(
            learning_rate=cfg.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=ADAM_EPSILON, **clip
        )
    return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum, **clip)


class TrainStep:
    """A compiled `step(x, y) -> loss`: one optimiser update on a numpy mini-batch."""

    def __init__(self, model: keras.Model, cfg: TrainConfig, example: np.ndarray) -> None:
        self.optimizer = make_optimizer(cfg)
        self.optimizer.build(model.trainable_variables)
        # Keras' sparse loss has no label smoothing; the dense one smooths exactly as PyTorch does:
        # targets (1 - s) * one_hot + s / classes.
        loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
        # One signature with a free batch dimension: the short last batch must not trigger a retrace.
        signature = [
            tf.TensorSpec([None, *example.shape[1:]], tf.as_dtype(example.dtype)),
            tf.TensorSpec([None], tf.int64),
        ]

        @tf.function(input_signature=signature)
        def step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(tf.one_hot(y, tf.shape(logits)[-1]), logits)
            grads = tape.gradient(loss, model.trainable_variables)
            self.optimizer.apply(grads, model.trainable_variables)
            return loss

        self._step = step

    def __call__(self, x: np.ndarray, y: np.ndarray):
        return self._step(tf.constant(x), tf.constant(y))

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.learning_rate.assign(lr)


def make_train_step(model: keras.Model, cfg: TrainConfig, example: np.ndarray) -> TrainStep:
    """The train step for `model`; `example` fixes the input's shape and dtype."""
    return TrainStep(model, cfg, example)
