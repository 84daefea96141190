"""The framework-neutral architecture and its initial weights.

Fairness starts here: instead of trusting each framework's default initialiser (Keras defaults to
Glorot-uniform, PyTorch's Linear to Kaiming-uniform with a=sqrt(5)), crosstrain draws the initial
weights once with numpy from the seed and loads the very same arrays into both models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crosstrain.config import MLPSpec, ModelSpec, SoftmaxSpec


@dataclass(frozen=True)
class Dense:
    """One fully connected layer; `activation` is None for the logits layer."""

    inputs: int
    outputs: int
    activation: str | None


def dense_layers(spec: ModelSpec, n_features: int, n_classes: int) -> list[Dense]:
    """The dense stack after the fixed standardisation layer, ending in `n_classes` logits."""
    hidden = spec.hidden if isinstance(spec, MLPSpec) else []
    activation = spec.activation if isinstance(spec, MLPSpec) else None
    sizes = [n_features, *hidden, n_classes]
    return [
        Dense(sizes[i], sizes[i + 1], activation if i < len(sizes) - 2 else None) for i in range(len(sizes) - 1)
    ]


def param_count(spec: ModelSpec, meta: dict, seed: int = 0) -> int:
    """Trainable parameters the spec implies: the size of its neutral initial weights."""
    return int(sum(w.size for w in initial_weights(spec, meta, seed).values()))


Weights = dict[str, np.ndarray]
"""Neutral weights: "<layer>/<param>" → array in the canonical (Keras) layout, e.g. dense kernels
(inputs, outputs). Each framework module converts to and from its own layout."""


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), as float32."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def initial_weights(spec: ModelSpec, meta: dict, seed: int) -> Weights:
    """Every trainable weight of the model, drawn with numpy from `seed` (Glorot kernels, zero biases)."""
    rng = np.random.default_rng([seed, 0x1217])
    weights: Weights = {}
    for i, layer in enumerate(dense_layers(spec, len(meta["features"]), len(meta["classes"]))):
        weights[f"dense_{i}/kernel"] = glorot_uniform(rng, (layer.inputs, layer.outputs), layer.inputs, layer.outputs)
        weights[f"dense_{i}/bias"] = np.zeros(layer.outputs, dtype=np.float32)
    return weights


def describe(spec: ModelSpec) -> str:
    """A short human name for the architecture, e.g. 'mlp[16]-relu' or 'softmax'."""
    if isinstance(spec, SoftmaxSpec):
        return "softmax"
    return f"mlp[{','.join(map(str, spec.hidden))}]-{spec.activation}"
