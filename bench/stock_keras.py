"""The stock Keras models a keras-io example would write: the reference of bench/overhead.py's model column.

    python bench/overhead.py --frameworks tensorflow --cases transformer/text   # one against crosstrain's

Each is the architecture of a crosstrain spec built from stock layers: `keras.Sequential` of Normalization,
Dense, Conv2D, BatchNormalization, ReLU, MaxPooling2D, Embedding, Bidirectional(LSTM) and pooling layers; the
Transformer is keras-io's "Text classification with Transformer": token and position `Embedding`s, then
post-norm blocks around `MultiHeadAttention` (key_dim = d / heads, as crosstrain's heads split d).

`build(spec, meta, weights)` loads crosstrain's neutral weights (by crosstrain's own layer names where the
layers are the same ones), so the bench can check that the stock model computes crosstrain's logits.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from crosstrain.config import BiLSTMSpec, CNNSpec, ModelSpec, TransformerSpec  # noqa: E402
from crosstrain.models import tf as tf_models  # noqa: E402
from crosstrain.models.spec import Weights, dense_layers  # noqa: E402


def _head(spec) -> list[layers.Layer]:
    if not getattr(spec, "dense", None):
        return [layers.Dropout(spec.dropout)]
    return [layers.Dropout(spec.dropout), layers.Dense(spec.dense, activation="relu", name="dense")]


def _sequential(spec: ModelSpec, meta: dict) -> keras.Sequential:
    n_classes = len(meta["classes"])
    if isinstance(spec, CNNSpec):
        stack: list[layers.Layer] = [keras.Input(tuple(meta["image_shape"]))]
        for i, width in enumerate(spec.widths):
            stack.append(layers.Conv2D(width, spec.kernel_size, padding="same", name=f"conv_{i}"))
            if spec.batch_norm:
                stack.append(layers.BatchNormalization(momentum=spec.bn_momentum, epsilon=spec.bn_epsilon,
                                                       name=f"batch_norm_{i}"))
            stack += [layers.ReLU(), layers.MaxPooling2D(2)]
        stack += [layers.GlobalAveragePooling2D(), *_head(spec)]
    elif isinstance(spec, BiLSTMSpec):
        pool = layers.GlobalAveragePooling1D if spec.pooling == "mean" else layers.GlobalMaxPooling1D
        stack = [keras.Input((meta["seq_len"],), dtype="int64"),
                 layers.Embedding(meta["vocab_size"], spec.embedding_dim, name="embedding"),
                 layers.Bidirectional(layers.LSTM(spec.units, return_sequences=True, name="lstm")),
                 pool(), *_head(spec)]
    else:
        variance = [s * s for s in meta["feature_std"]]
        stack = [keras.Input((len(meta["features"]),)),
                 layers.Normalization(mean=meta["feature_mean"], variance=variance)]
        for i, layer in enumerate(dense_layers(spec, len(meta["features"]), n_classes)):
            stack.append(layers.Dense(layer.outputs, activation=layer.activation, name=f"dense_{i}"))
        return keras.Sequential(stack)
    return keras.Sequential([*stack, layers.Dense(n_classes, name="logits")])


class TokenAndPositionEmbedding(layers.Layer):
    """keras-io's: token embedding plus an Embedding of the positions 0 … T-1."""

    def __init__(self, seq_len: int, vocab_size: int, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(vocab_size, dim)
        self.pos_emb = layers.Embedding(seq_len, dim)

    def call(self, x):
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1])
        return self.token_emb(x) + self.pos_emb(positions)


class TransformerBlock(layers.Layer):
    """keras-io's post-norm block: MultiHeadAttention, then a Dense-ReLU-Dense feed-forward network."""

    def __init__(self, spec: TransformerSpec, **kwargs) -> None:
        super().__init__(**kwargs)
        d = spec.embedding_dim
        self.att = layers.MultiHeadAttention(num_heads=spec.heads, key_dim=d // spec.heads)
        self.ffn = keras.Sequential([layers.Dense(spec.ff_dim, activation="relu"), layers.Dense(d)])
        self.layernorm1 = layers.LayerNormalization(epsilon=spec.ln_epsilon)
        self.layernorm2 = layers.LayerNormalization(epsilon=spec.ln_epsilon)
        self.dropout1, self.dropout2 = layers.Dropout(spec.dropout), layers.Dropout(spec.dropout)

    def call(self, inputs, training=None):
        out1 = self.layernorm1(inputs + self.dropout1(self.att(inputs, inputs), training=training))
        return self.layernorm2(out1 + self.dropout2(self.ffn(out1), training=training))


def _transformer(spec: TransformerSpec, meta: dict, weights: Weights) -> keras.Model:
    d, h = spec.embedding_dim, spec.heads
    inputs = keras.Input((meta["seq_len"],), dtype="int64")
    embedding = TokenAndPositionEmbedding(meta["seq_len"], meta["vocab_size"], d)
    x = layers.Dropout(spec.dropout)(embedding(inputs))
    blocks = [TransformerBlock(spec) for _ in range(spec.layers)]
    for block in blocks:
        x = block(x)
    x = layers.Dropout(spec.dropout)(layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, layers.Dense(len(meta["classes"]), name="logits")(x))
    embedding.token_emb.embeddings.assign(weights["embedding/embeddings"])
    embedding.pos_emb.embeddings.assign(weights["position_embedding/embeddings"])
    for i, block in enumerate(blocks):
        name = f"encoder_{i}"
        att = []
        for part in ("query", "key", "value"):  # (d, d) → (d, heads, d/heads): head j is columns j·d/h …
            att += [weights[f"{name}_{part}/kernel"].reshape(d, h, d // h),
                    weights[f"{name}_{part}/bias"].reshape(h, d // h)]
        block.att.set_weights([*att, weights[f"{name}_output/kernel"].reshape(h, d // h, d),
                               weights[f"{name}_output/bias"]])
        block.ffn.set_weights([weights[f"{name}_ff_{j}/{p}"] for j in (1, 2) for p in ("kernel", "bias")])
        for j, norm in ((1, block.layernorm1), (2, block.layernorm2)):
            norm.set_weights([weights[f"{name}_norm_{j}/gamma"], weights[f"{name}_norm_{j}/beta"]])
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])
    return model


def build(spec: ModelSpec, meta: dict, weights: Weights):
    """(stock model holding `weights`, `to_input(x)`: the identity, Keras takes crosstrain's layout)."""
    if isinstance(spec, TransformerSpec):
        return _transformer(spec, meta, weights), lambda x: x
    model = _sequential(spec, meta)
    tf_models.set_weights(model, weights)  # same layer names, same stock layers: crosstrain's loader fits
    return model, lambda x: x


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Inference-mode logits of the stock model."""
    return np.asarray(model(tf.constant(x), training=False))
