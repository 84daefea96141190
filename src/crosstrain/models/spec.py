"""The framework-neutral architecture and its initial weights.

Fairness starts here: instead of trusting each framework's default initialiser (Keras defaults to
Glorot-uniform, PyTorch's Linear to Kaiming-uniform with a=sqrt(5)), crosstrain draws the initial
weights once with numpy from the seed and loads the very same arrays into both models.

Layer names are shared by both frameworks; `models/tf.py` and `models/torch.py` build exactly these
layers, in this order, under these names:

- softmax / mlp: dense_0 … dense_n (the last one gives the logits).
- cnn: conv_i (+ batch_norm_i) per width, then dense (optional) and logits.
- bilstm: embedding, forward_lstm, backward_lstm, dense (optional), logits.
- transformer: embedding, position_embedding, per layer i: encoder_i_{query,key,value,output}
  (attention), encoder_i_norm_1, encoder_i_ff_1, encoder_i_ff_2, encoder_i_norm_2; then logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crosstrain.config import BiLSTMSpec, CNNSpec, MLPSpec, ModelSpec, SoftmaxSpec, TransformerSpec
from crosstrain.errors import ConfigError

Weights = dict[str, np.ndarray]
"""Neutral weights: "<layer>/<param>" → array in the canonical (Keras) layout: dense kernels (in, out),
conv kernels (kh, kw, in, out), LSTM kernel (in, 4u) / recurrent_kernel (u, 4u) / bias (4u) with gates
i, f, c, o. Each framework module converts to and from its own layout."""

NON_TRAINABLE = ("moving_mean", "moving_variance")
"""Params that are part of the weights (inference needs them) but that no optimiser updates."""

EMBEDDING_LIMIT = 0.05
"""Embeddings start U(-0.05, 0.05): Keras' default ("uniform"), stated so PyTorch (N(0, 1)) gets it too."""


@dataclass(frozen=True)
class Dense:
    """One fully connected layer; `activation` is None for the logits layer."""

    inputs: int
    outputs: int
    activation: str | None


def dense_layers(spec: ModelSpec, n_features: int, n_classes: int) -> list[Dense]:
    """The dense stack of a softmax/MLP after the fixed standardisation, ending in `n_classes` logits."""
    hidden = spec.hidden if isinstance(spec, MLPSpec) else []
    activation = spec.activation if isinstance(spec, MLPSpec) else None
    sizes = [n_features, *hidden, n_classes]
    return [
        Dense(sizes[i], sizes[i + 1], activation if i < len(sizes) - 2 else None)
        for i in range(len(sizes) - 1)
    ]


def check(spec: ModelSpec, meta: dict) -> None:
    """Fail loudly, before building anything, when the spec cannot be built identically for this data."""
    need = {"image": ("image_shape",), "text": ("vocab_size", "seq_len"), "table": ("features",)}
    modality = meta.get("modality", "table")
    missing = [key for key in need.get(modality, ()) if key not in meta]
    if missing:
        raise ConfigError(
            f"meta.json of this {modality} task lacks {', '.join(missing)}: re-run `crosstrain ingest`"
        )
    if isinstance(spec, CNNSpec):
        if spec.kernel_size % 2 == 0:
            # Keras' "same" padding is asymmetric for even kernels; PyTorch's padding=k//2 is not.
            raise ConfigError(
                f"model.kernel_size must be odd for identical 'same' padding, got {spec.kernel_size}"
            )
        height, width = meta["image_shape"][:2]
        if min(height, width) < 2 ** len(spec.widths):
            raise ConfigError(
                f"{len(spec.widths)} 2×2 poolings leave nothing of {height}×{width} images; drop some widths"
            )


def param_count(spec: ModelSpec, meta: dict, seed: int = 0) -> int:
    """Trainable parameters the spec implies: its neutral initial weights without batch-norm statistics."""
    weights = initial_weights(spec, meta, seed)
    return int(sum(w.size for name, w in weights.items() if name.rsplit("/", 1)[1] not in NON_TRAINABLE))


# --- initialisers, as Keras defines them ----------------------------------------------------------


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), as float32."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Keras' Orthogonal on the whole matrix: QR of a normal draw, signs fixed by diag(R), orthonormal rows
    for a wide (u, 4u) recurrent kernel."""
    rows, cols = shape
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return (q.T if rows < cols else q).astype(np.float32)


def zeros(n: int) -> np.ndarray:
    """n float32 zeros: Keras' default bias (and batch-norm β, moving mean) initialiser."""
    return np.zeros(n, dtype=np.float32)


def ones(n: int) -> np.ndarray:
    """n float32 ones: Keras' default γ, moving variance and LSTM forget-gate bias."""
    return np.ones(n, dtype=np.float32)


def _dense(weights: Weights, rng: np.random.Generator, name: str, n_in: int, n_out: int) -> None:
    weights[f"{name}/kernel"] = glorot_uniform(rng, (n_in, n_out), n_in, n_out)
    weights[f"{name}/bias"] = zeros(n_out)


def _embedding(weights: Weights, rng: np.random.Generator, name: str, rows: int, dim: int) -> None:
    weights[f"{name}/embeddings"] = rng.uniform(-EMBEDDING_LIMIT, EMBEDDING_LIMIT, (rows, dim)).astype(
        np.float32
    )


def _layer_norm(weights: Weights, name: str, dim: int) -> None:
    weights[f"{name}/gamma"], weights[f"{name}/beta"] = ones(dim), zeros(dim)


# --- one function per architecture ----------------------------------------------------------------


def _mlp(spec: SoftmaxSpec | MLPSpec, meta: dict, rng: np.random.Generator) -> Weights:
    weights: Weights = {}
    for i, layer in enumerate(dense_layers(spec, len(meta["features"]), len(meta["classes"]))):
        _dense(weights, rng, f"dense_{i}", layer.inputs, layer.outputs)
    return weights


def _cnn(spec: CNNSpec, meta: dict, rng: np.random.Generator) -> Weights:
    weights: Weights = {}
    k, channels = spec.kernel_size, meta["image_shape"][-1]
    for i, width in enumerate(spec.widths):
        # Keras' conv fans: receptive field × channels in / out.
        weights[f"conv_{i}/kernel"] = glorot_uniform(
            rng, (k, k, channels, width), k * k * channels, k * k * width
        )
        weights[f"conv_{i}/bias"] = zeros(width)
        if spec.batch_norm:
            _layer_norm(weights, f"batch_norm_{i}", width)
            weights[f"batch_norm_{i}/moving_mean"] = zeros(width)
            weights[f"batch_norm_{i}/moving_variance"] = ones(width)
        channels = width
    return _head(weights, rng, spec.dense, channels, len(meta["classes"]))


def _head(weights: Weights, rng: np.random.Generator, dense: int | None, features: int,
          classes: int) -> Weights:
    """The optional dense + ReLU layer, then the logits: the end of the CNN and the BiLSTM."""
    if dense:
        _dense(weights, rng, "dense", features, dense)
        features = dense
    _dense(weights, rng, "logits", features, classes)
    return weights


def _bilstm(spec: BiLSTMSpec, meta: dict, rng: np.random.Generator) -> Weights:
    weights: Weights = {}
    u = spec.units
    _embedding(weights, rng, "embedding", meta["vocab_size"], spec.embedding_dim)
    for direction in ("forward_lstm", "backward_lstm"):
        weights[f"{direction}/kernel"] = glorot_uniform(
            rng, (spec.embedding_dim, 4 * u), spec.embedding_dim, 4 * u
        )
        weights[f"{direction}/recurrent_kernel"] = orthogonal(rng, (u, 4 * u))
        # Keras' unit_forget_bias: the forget gate (second quarter of i, f, c, o) starts at 1.
        weights[f"{direction}/bias"] = np.concatenate([zeros(u), ones(u), zeros(2 * u)])
    return _head(weights, rng, spec.dense, 2 * u, len(meta["classes"]))


def _transformer(spec: TransformerSpec, meta: dict, rng: np.random.Generator) -> Weights:
    weights: Weights = {}
    d = spec.embedding_dim
    _embedding(weights, rng, "embedding", meta["vocab_size"], d)
    _embedding(weights, rng, "position_embedding", meta["seq_len"], d)
    for i in range(spec.layers):
        for part in ("query", "key", "value", "output"):
            _dense(weights, rng, f"encoder_{i}_{part}", d, d)
        _layer_norm(weights, f"encoder_{i}_norm_1", d)
        _dense(weights, rng, f"encoder_{i}_ff_1", d, spec.ff_dim)
        _dense(weights, rng, f"encoder_{i}_ff_2", spec.ff_dim, d)
        _layer_norm(weights, f"encoder_{i}_norm_2", d)
    _dense(weights, rng, "logits", d, len(meta["classes"]))
    return weights


# Each takes its own spec class; `initial_weights` looks one up by `spec.kind`, which picks the match.
INITIALISERS: dict[str, Callable[[Any, dict, np.random.Generator], Weights]] = {
    "softmax": _mlp, "mlp": _mlp, "cnn": _cnn, "bilstm": _bilstm, "transformer": _transformer,
}


def initial_weights(spec: ModelSpec, meta: dict, seed: int) -> Weights:
    """Every weight of the model, drawn with numpy from `seed`.

    Glorot-uniform dense and conv kernels, orthogonal LSTM recurrent kernels, zero biases (LSTM forget
    gate 1), U(-0.05, 0.05) embeddings, batch-norm γ=1 β=0 with moving mean 0 and variance 1, layer-norm
    γ=1 β=0: Keras' defaults, made explicit so both frameworks start from the same arrays.
    """
    check(spec, meta)
    rng = np.random.default_rng([seed, 0x1217])
    return INITIALISERS[spec.kind](spec, meta, rng)


def describe(spec: ModelSpec) -> str:
    """A short name for the architecture, e.g. 'mlp[16]-relu', 'cnn[32,64]-k3-bn-d64', 'bilstm64x32-max'."""
    if isinstance(spec, SoftmaxSpec):
        return "softmax"
    if isinstance(spec, MLPSpec):
        return f"mlp[{','.join(map(str, spec.hidden))}]-{spec.activation}"
    width = getattr(spec, "dense", None)  # CNN and BiLSTM have an optional dense layer, transformers none
    dense = f"-d{width}" if width else ""
    if isinstance(spec, CNNSpec):
        norm = "-bn" if spec.batch_norm else ""
        return f"cnn[{','.join(map(str, spec.widths))}]-k{spec.kernel_size}{norm}{dense}"
    if isinstance(spec, BiLSTMSpec):
        return f"bilstm{spec.embedding_dim}x{spec.units}-{spec.pooling}{dense}"
    return f"transformer{spec.embedding_dim}-l{spec.layers}-h{spec.heads}-ff{spec.ff_dim}"
