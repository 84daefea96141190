"""The TensorFlow (Keras 3) side of every model: build, weights in and out, predict, save, load.

Mirrors `crosstrain.models.torch` name for name.
"""

from __future__ import annotations

import os

# Keras 3 picks its backend at import time; crosstrain's TensorFlow path means the TF backend.
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep oneDNN/CPU-feature banners out of the CLI

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from crosstrain.config import ModelSpec  # noqa: E402
from crosstrain.models.spec import Weights, dense_layers  # noqa: E402

# Keras prints a progress bar for every predict() (MLflow calls it while logging); crosstrain has its own.
keras.utils.disable_interactive_logging()

MODEL_FILE = "model.keras"


def build_model(spec: ModelSpec, meta: dict) -> keras.Model:
    """The Keras model of `spec` for the prepared data `meta` describes, ending in logits."""
    n_features, n_classes = len(meta["features"]), len(meta["classes"])
    mean, std = meta["feature_mean"], meta["feature_std"]
    inputs = keras.Input(shape=(n_features,), name="features")
    # Normalization divides by sqrt(variance); the statistics come from the train split (meta.json).
    x = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="standardize")(inputs)
    for i, layer in enumerate(dense_layers(spec, n_features, n_classes)):
        x = keras.layers.Dense(layer.outputs, activation=layer.activation, name=f"dense_{i}")(x)
    return keras.Model(inputs, x, name="crosstrain")


def _dense(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def set_weights(model: keras.Model, weights: Weights) -> None:
    """Load neutral weights; the canonical layout is Keras' own, so this is a copy by name."""
    for layer in _dense(model):
        layer.set_weights([weights[f"{layer.name}/kernel"], weights[f"{layer.name}/bias"]])


def get_weights(model: keras.Model) -> Weights:
    """The trainable weights as neutral "<layer>/<param>" arrays."""
    weights: Weights = {}
    for layer in _dense(model):
        kernel, bias = layer.get_weights()
        weights[f"{layer.name}/kernel"], weights[f"{layer.name}/bias"] = np.asarray(kernel), np.asarray(bias)
    return weights


def param_count(model: keras.Model) -> int:
    """Trainable parameters as Keras counts them."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def make_predict(model: keras.Model):
    """A compiled inference function `x (numpy) -> logits (numpy)`: TF's serving path is a graph."""
    fn = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, model.input_shape[-1]], tf.float32)])
    return lambda x: fn(tf.constant(x)).numpy()


def predict_logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Logits for a batch of features, in inference mode."""
    return np.asarray(model(tf.constant(x, dtype=tf.float32), training=False))


def save(model: keras.Model, directory: Path) -> Path:
    """Save in Keras' native `.keras` format."""
    path = Path(directory) / MODEL_FILE
    model.save(path)
    return path


def load(directory: Path) -> keras.Model:
    """Load a model saved by `save`."""
    return keras.saving.load_model(Path(directory) / MODEL_FILE)


def log_model(model: keras.Model, example: np.ndarray, pip_requirements: list[str]):
    """Log to the active MLflow run with signature and input example; returns the ModelInfo.

    Uses the `tensorflow` flavour (which saves Keras 3 models as `.keras`): in MLflow 3.17 the
    `keras` flavour writes the input example before creating the model directory and fails.
    """
    import mlflow.tensorflow
    from mlflow.models import infer_signature

    signature = infer_signature(example, predict_logits(model, example))
    return mlflow.tensorflow.log_model(
        model, name="model", signature=signature, input_example=example, pip_requirements=pip_requirements
    )
