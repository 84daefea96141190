"""FLOPs per example, computed from the model spec and the data's meta: no framework, no tracing.

The count follows the layers `models/tf.py` and `models/torch.py` build, shape for shape, so it is the
same number for both frameworks, and `achieved FLOP/s = FLOPs per example × examples per second` compares
them on one scale. Conventions (those of `torch.utils.flop_counter.FlopCounterMode`, which the tests
check against):

- A multiply-add is 2 FLOPs. Counted: dense layers (2·in·out), convolutions (2·k²·c_in·c_out per output
  pixel, zero padding included), the LSTM's input and recurrent matrix products per step and direction,
  and attention's q·kᵀ and probs·v products (2·T²·d each).
- Ignored, being elementwise or reductions that are small next to the products: biases, activations,
  LSTM gate nonlinearities and cell updates, softmax, scaling, normalisation (standardise, batch-norm,
  layer-norm), residual adds, dropout, pooling. Embeddings are table look-ups: 0 FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crosstrain.config import BiLSTMSpec, CNNSpec, ModelSpec, TransformerSpec
from crosstrain.models.spec import check, dense_layers

TRAINING_FACTOR = 3
"""Training FLOPs per forward FLOP: the backward pass computes the gradient of both the inputs and the
weights of every product, two products of the forward one's size, so forward + backward ≈ 3 × forward
(the usual estimate, e.g. Kaplan et al. 2020's 6·N per token for 2·N forward)."""


def _dense(n_in: int, n_out: int) -> int:
    return 2 * n_in * n_out


def _head(spec: CNNSpec | BiLSTMSpec | TransformerSpec, features: int, n_classes: int) -> int:
    """The optional dense layer and the logits, as `models.tf._head`."""
    flops, dense = 0, getattr(spec, "dense", None)  # a transformer has no dense layer
    if dense:
        flops += _dense(features, dense)
        features = dense
    return flops + _dense(features, n_classes)


def _mlp(spec: ModelSpec, meta: dict) -> int:
    layers = dense_layers(spec, len(meta["features"]), len(meta["classes"]))
    return sum(_dense(layer.inputs, layer.outputs) for layer in layers)


def _cnn(spec: CNNSpec, meta: dict) -> int:
    height, width, channels = meta["image_shape"]
    k, flops = spec.kernel_size, 0
    for out in spec.widths:
        # "same" padding, stride 1: one output per input pixel; then a 2×2 max-pool that floors odd sizes.
        flops += 2 * height * width * k * k * channels * out
        height, width, channels = height // 2, width // 2, out
    return flops + _head(spec, channels, len(meta["classes"]))


def _bilstm(spec: BiLSTMSpec, meta: dict) -> int:
    e, u, steps = spec.embedding_dim, spec.units, meta["seq_len"]
    # Per step and direction: x·W (e → 4u gates) and h·U (u → 4u gates).
    per_step = _dense(e, 4 * u) + _dense(u, 4 * u)
    return 2 * steps * per_step + _head(spec, 2 * u, len(meta["classes"]))


def _transformer(spec: TransformerSpec, meta: dict) -> int:
    d, steps = spec.embedding_dim, meta["seq_len"]
    projections = 4 * steps * _dense(d, d)  # query, key, value, output
    scores_and_values = 2 * (2 * steps * steps * d)  # q·kᵀ and probs·v, all heads together
    feed_forward = steps * (_dense(d, spec.ff_dim) + _dense(spec.ff_dim, d))
    encoder = projections + scores_and_values + feed_forward
    return spec.layers * encoder + _head(spec, d, len(meta["classes"]))


# Each takes its own spec class; `flops_per_example` looks one up by `spec.kind`, which picks the match.
_COUNTERS: dict[str, Callable[[Any, dict], int]] = {
    "softmax": _mlp, "mlp": _mlp, "cnn": _cnn, "bilstm": _bilstm, "transformer": _transformer,
}


def flops_per_example(spec: ModelSpec, meta: dict) -> int:
    """Forward-pass FLOPs of one example (multiply-add = 2; products only, see the module docstring)."""
    check(spec, meta)
    return int(_COUNTERS[spec.kind](spec, meta))


def training_flops_per_example(spec: ModelSpec, meta: dict) -> int:
    """FLOPs of one example in a training step: forward + backward ≈ 3 × forward (`TRAINING_FACTOR`)."""
    return TRAINING_FACTOR * flops_per_example(spec, meta)
