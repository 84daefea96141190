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


def param_count(spec: ModelSpec, n_features: int, n_classes: int) -> int:
    """Trainable parameters: weights plus biases of every dense layer."""
    return sum(d.inputs * d.outputs + d.outputs for d in dense_layers(spec, n_features, n_classes))


def initial_weights(spec: ModelSpec, n_features: int, n_classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Glorot-uniform kernels (inputs, outputs) and zero biases, drawn with numpy from `seed`."""
    rng = np.random.default_rng([seed, 0x1217])
    weights = []
    for layer in dense_layers(spec, n_features, n_classes):
        limit = np.sqrt(6.0 / (layer.inputs + layer.outputs))
        kernel = rng.uniform(-limit, limit, size=(layer.inputs, layer.outputs)).astype(np.float32)
        weights.append((kernel, np.zeros(layer.outputs, dtype=np.float32)))
    return weights


def describe(spec: ModelSpec) -> str:
    """A short human name for the architecture, e.g. 'mlp[16]-relu' or 'softmax'."""
    if isinstance(spec, SoftmaxSpec):
        return "softmax"
    return f"mlp[{','.join(map(str, spec.hidden))}]-{spec.activation}"
