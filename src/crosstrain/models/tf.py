"""The TensorFlow (Keras 3) side of every model: build, weights in and out, predict, save, load.

Mirrors `crosstrain.models.torch` name for name. Models are functional Keras graphs of named
layers (the names in `crosstrain.models.spec`); the only custom layers are the learned positional
embedding and the weight-free attention core, so the transformer's weights are plain Dense layers.
"""

from __future__ import annotations

# First: Keras 3 picks its backend at import time; crosstrain's TensorFlow path means the TF backend.
import crosstrain.models.keras_backend  # noqa: F401  (sets KERAS_BACKEND and TensorFlow's log level)

# isort: split
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from crosstrain.config import BiLSTMSpec, CNNSpec, ModelSpec, TransformerSpec
from crosstrain.models.spec import NON_TRAINABLE, Weights, check, dense_layers

# Keras prints a progress bar for every predict() (MLflow calls it while logging); crosstrain has its own.
keras.utils.disable_interactive_logging()

MODEL_FILE = "model.keras"


def place(model: keras.Model, device: str) -> keras.Model:
    """The model itself: TensorFlow computes on the one device `training.tf.configure` showed it."""
    return model

Tensor = Any
"""A tf.Tensor, or a KerasTensor while the functional graph is built (Keras' layers take either)."""


# --- the two custom layers -----------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="crosstrain")
class PositionEmbedding(layers.Layer):
    """Adds a learned (seq_len, dim) table to the token embeddings: x + E[:T]."""

    def __init__(self, seq_len: int, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seq_len, self.dim = seq_len, dim

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the (seq_len, dim) table, U(-0.05, 0.05) as every embedding (neutral weights replace it)."""
        self.embeddings = self.add_weight(
            shape=(self.seq_len, self.dim),
            name="embeddings",
            initializer=keras.initializers.RandomUniform(-0.05, 0.05),
        )

    def call(self, x: Tensor) -> Tensor:
        """(B, T, dim) token embeddings plus the table's first T rows."""
        return x + self.embeddings[None, : keras.ops.shape(x)[1]]

    def get_config(self) -> dict:
        """The constructor arguments, so a saved `.keras` model rebuilds this layer."""
        return {**super().get_config(), "seq_len": self.seq_len, "dim": self.dim}


@keras.saving.register_keras_serializable(package="crosstrain")
class ScaledDotProductAttention(layers.Layer):
    """Scaled dot-product attention over `heads` heads of already-projected q, k, v; no weights, no mask.

    (B, T, d) → heads (B, h, T, d/h) → softmax(q·kᵀ / √(d/h))·v → (B, T, d), as `models.torch.attention`.
    """

    def __init__(self, heads: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.heads = heads

    def call(self, inputs: list[Tensor]) -> Tensor:
        """[q, k, v], each (B, T, d), to the heads' concatenated attention outputs, (B, T, d)."""
        q, k, v = (self._split(t) for t in inputs)
        scale = 1.0 / float(np.sqrt(q.shape[-1]))
        probs = keras.ops.softmax(keras.ops.matmul(q * scale, keras.ops.transpose(k, (0, 1, 3, 2))), axis=-1)
        out = keras.ops.transpose(keras.ops.matmul(probs, v), (0, 2, 1, 3))
        shape = keras.ops.shape(out)
        return keras.ops.reshape(out, (shape[0], shape[1], shape[2] * shape[3]))

    def _split(self, x: Tensor) -> Tensor:
        shape = keras.ops.shape(x)
        x = keras.ops.reshape(x, (shape[0], shape[1], self.heads, x.shape[-1] // self.heads))
        return keras.ops.transpose(x, (0, 2, 1, 3))

    def compute_output_shape(self, input_shapes: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        """The output has q's shape (B, T, d)."""
        return input_shapes[0]

    def get_config(self) -> dict:
        """The constructor arguments, so a saved `.keras` model rebuilds this layer."""
        return {**super().get_config(), "heads": self.heads}


CUSTOM_OBJECTS = {
    "crosstrain>PositionEmbedding": PositionEmbedding,
    "crosstrain>ScaledDotProductAttention": ScaledDotProductAttention,
}


# --- one builder per architecture ----------------------------------------------------------------


def _mlp(spec: ModelSpec, meta: dict) -> tuple[Tensor, Tensor]:
    n_features, n_classes = len(meta["features"]), len(meta["classes"])
    mean, std = meta["feature_mean"], meta["feature_std"]
    inputs = keras.Input(shape=(n_features,), name="features")
    # Normalization divides by sqrt(variance); the statistics come from the train split (meta.json).
    x = layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="standardize")(inputs)
    for i, layer in enumerate(dense_layers(spec, n_features, n_classes)):
        x = layers.Dense(layer.outputs, activation=layer.activation, name=f"dense_{i}")(x)
    return inputs, x


def _head(x: Tensor, spec: CNNSpec | BiLSTMSpec | TransformerSpec, meta: dict) -> Tensor:
    """Dropout → optional dense + ReLU → logits: the end of every deep architecture."""
    x = layers.Dropout(spec.dropout, name="dropout")(x)
    dense = getattr(spec, "dense", None)  # a transformer has no dense layer
    if dense:
        x = layers.Dense(dense, activation="relu", name="dense")(x)
    return layers.Dense(len(meta["classes"]), name="logits")(x)


def _cnn(spec: CNNSpec, meta: dict) -> tuple[Tensor, Tensor]:
    inputs = keras.Input(shape=tuple(meta["image_shape"]), name="image")
    x = inputs
    for i, width in enumerate(spec.widths):
        # Stride 1 and an odd kernel: "same" pads k//2 on every side, as PyTorch's padding=k//2.
        x = layers.Conv2D(width, spec.kernel_size, padding="same", name=f"conv_{i}")(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(
                momentum=spec.bn_momentum, epsilon=spec.bn_epsilon, name=f"batch_norm_{i}"
            )(x)
        x = layers.ReLU(name=f"relu_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    return inputs, _head(layers.GlobalAveragePooling2D(name="global_pool")(x), spec, meta)


def _bilstm(spec: BiLSTMSpec, meta: dict) -> tuple[Tensor, Tensor]:
    inputs = keras.Input(shape=(meta["seq_len"],), dtype="int64", name="tokens")
    x = layers.Embedding(meta["vocab_size"], spec.embedding_dim, name="embedding")(inputs)  # no mask_zero
    # use_cudnn="auto" picks cuDNN on a GPU (PyTorch does too) and the generic loop on CPU; both compute
    # the same equations with tanh/sigmoid and no LSTM-internal dropout, so only float rounding differs.
    lstm = layers.LSTM(
        spec.units,
        activation="tanh",
        recurrent_activation="sigmoid",
        return_sequences=True,
        use_cudnn="auto",
        name="lstm",
    )
    x = layers.Bidirectional(lstm, merge_mode="concat", name="bilstm")(x)  # forward_lstm, backward_lstm
    pool = layers.GlobalAveragePooling1D if spec.pooling == "mean" else layers.GlobalMaxPooling1D
    return inputs, _head(pool(name="pool")(x), spec, meta)


def _transformer(spec: TransformerSpec, meta: dict) -> tuple[Tensor, Tensor]:
    """Token + learned position embeddings → dropout → N post-norm encoder layers → mean over time → head.

    Encoder layer i, as `torch_layers.Transformer` (dropout p everywhere, none on attention probabilities):
        a = output(attention(query(x), key(x), value(x)));  x = norm_1(x + dropout(a))
        f = ff_2(relu(ff_1(x)));                            x = norm_2(x + dropout(f))
    """
    d, eps = spec.embedding_dim, spec.ln_epsilon
    inputs = keras.Input(shape=(meta["seq_len"],), dtype="int64", name="tokens")
    x = layers.Embedding(meta["vocab_size"], d, name="embedding")(inputs)
    x = PositionEmbedding(meta["seq_len"], d, name="position_embedding")(x)
    x = layers.Dropout(spec.dropout, name="embedding_dropout")(x)
    for i in range(spec.layers):
        name = f"encoder_{i}"
        q, k, v = (layers.Dense(d, name=f"{name}_{part}")(x) for part in ("query", "key", "value"))
        a = layers.Dense(d, name=f"{name}_output")(
            ScaledDotProductAttention(spec.heads, name=f"{name}_attention")([q, k, v])
        )
        a = layers.Dropout(spec.dropout, name=f"{name}_dropout_1")(a)
        x = layers.LayerNormalization(epsilon=eps, name=f"{name}_norm_1")(
            layers.Add(name=f"{name}_add_1")([x, a])
        )
        f = layers.Dense(spec.ff_dim, activation="relu", name=f"{name}_ff_1")(x)
        f = layers.Dropout(spec.dropout, name=f"{name}_dropout_2")(layers.Dense(d, name=f"{name}_ff_2")(f))
        x = layers.LayerNormalization(epsilon=eps, name=f"{name}_norm_2")(
            layers.Add(name=f"{name}_add_2")([x, f])
        )
    return inputs, _head(layers.GlobalAveragePooling1D(name="pool")(x), spec, meta)


# (inputs, logits) of the functional graph; each takes its own spec class, looked up by `spec.kind`.
BUILDERS: dict[str, Callable[[Any, dict], tuple[Tensor, Tensor]]] = {
    "softmax": _mlp, "mlp": _mlp, "cnn": _cnn, "bilstm": _bilstm, "transformer": _transformer,
}


MIXED_POLICY = "mixed_bfloat16"


def build_model(spec: ModelSpec, meta: dict, precision: str = "fp32") -> keras.Model:
    """The Keras model of `spec` for the prepared data `meta` describes, ending in float32 logits.

    `precision="mixed"` builds every layer under Keras' "mixed_bfloat16" policy (bf16 compute, fp32
    variables, as the Keras mixed-precision guide does) and ends in a float32 identity layer, so losses
    and softmax see float32 logits. The global policy is restored afterwards: later builds stay fp32.
    """
    check(spec, meta)
    if precision == "fp32":
        inputs, outputs = BUILDERS[spec.kind](spec, meta)
        return keras.Model(inputs, outputs, name="crosstrain")
    if precision != "mixed":
        raise ValueError(f"precision must be fp32 or mixed, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED_POLICY)
    try:
        inputs, outputs = BUILDERS[spec.kind](spec, meta)
    finally:
        keras.config.set_dtype_policy(previous)
    # The guide's float32 output layer: weight-free, so the neutral weights are the fp32 model's.
    outputs = layers.Activation("linear", dtype="float32", name="logits_float32")(outputs)
    return keras.Model(inputs, outputs, name="crosstrain")


def precision_of(model: keras.Model) -> str:
    """"mixed" when the model computes in bf16 (built with precision="mixed" or loaded from such a model)."""
    return "mixed" if any(layer.dtype_policy.name == MIXED_POLICY for layer in model.layers) else "fp32"


# --- weights in the neutral layout ---------------------------------------------------------------


def _variables(model: keras.Model) -> dict[str, keras.Variable]:
    """Neutral name → variable: every trainable weight plus batch-norm's moving statistics.

    The canonical layout is Keras' own, so no conversion is needed; the standardisation layer's fixed
    statistics are not weights (they come from meta.json).
    """
    found: dict[str, keras.Variable] = {}
    for layer in model.layers:
        if isinstance(layer, layers.Bidirectional):
            for direction in (layer.forward_layer, layer.backward_layer):
                found.update({f"{direction.name}/{v.name}": v for v in direction.cell.weights})
            continue
        for v in layer.weights:
            if v.trainable or v.name in NON_TRAINABLE:
                found[f"{layer.name}/{v.name}"] = v
    return found


def set_weights(model: keras.Model, weights: Weights) -> None:
    """Load neutral weights by name; missing, extra or misshapen arrays are errors."""
    variables = _variables(model)
    if variables.keys() != weights.keys():
        raise KeyError(
            f"weights do not fit the model: missing {sorted(variables.keys() - weights.keys())}, "
            f"unexpected {sorted(weights.keys() - variables.keys())}"
        )
    for name, variable in variables.items():
        if tuple(variable.shape) != weights[name].shape:
            raise ValueError(
                f"{name}: model has shape {tuple(variable.shape)}, weights {weights[name].shape}"
            )
        variable.assign(weights[name])


def get_weights(model: keras.Model) -> Weights:
    """The weights as neutral "<layer>/<param>" arrays."""
    return {name: np.array(v.numpy()) for name, v in _variables(model).items()}


def param_count(model: keras.Model) -> int:
    """Trainable parameters as Keras counts them."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


# --- inference, saving, logging ------------------------------------------------------------------


def _input_dtype(model: keras.Model) -> np.dtype:
    """float32 features or pixels, int64 token ids."""
    return np.dtype(keras.backend.standardize_dtype(model.inputs[0].dtype))


def make_predict(model: keras.Model, execution: str = "eager"):
    """A compiled inference function `x (numpy) -> float32 logits (numpy)`: TF's serving path is a graph.

    It runs in the model's precision (a mixed model computes in bf16); `execution="compiled"` compiles
    the graph with XLA (`jit_compile=True`), so each execution mode's latency is measured in that mode.
    """
    dtype = _input_dtype(model)
    signature = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.as_dtype(dtype))]
    # Only "compiled" names XLA explicitly: the eager path keeps TensorFlow's default (no auto-clustering).
    jit = {"jit_compile": True} if execution == "compiled" else {}
    fn = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32),
                     input_signature=signature, **jit)
    return lambda x: fn(tf.constant(np.asarray(x, dtype=dtype))).numpy()


def predict_logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Logits for a batch of inputs, in inference mode."""
    logits = model(tf.constant(np.asarray(x, dtype=_input_dtype(model))), training=False)
    return np.asarray(tf.cast(logits, tf.float32))


def save(model: keras.Model, directory: Path) -> Path:
    """Save in Keras' native `.keras` format."""
    path = Path(directory) / MODEL_FILE
    model.save(path)
    return path


def load(directory: Path) -> keras.Model:
    """Load a model saved by `save` (the custom layers are registered when this module is imported)."""
    return keras.saving.load_model(Path(directory) / MODEL_FILE, custom_objects=CUSTOM_OBJECTS)
