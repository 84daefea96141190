"""Random weights for parity tests: every parameter large enough to matter.

Shared by the architecture parity tests (tests/models) and the stock-model check of the overhead
bench (tests/perf): a model that ignored a weight, swapped a gate or an axis would not agree.
"""

from __future__ import annotations

import numpy as np

from crosstrain.models import spec as neutral


def large_weights(spec, meta, seed: int) -> neutral.Weights:
    """Random weights that make every parameter matter: unit-scale embeddings (logits O(1), so a swapped
    gate or axis cannot hide under the tolerance), random biases, γ, β and batch-norm statistics."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, w in neutral.initial_weights(spec, meta, seed).items():
        param = name.rsplit("/", 1)[1]
        if param == "embeddings":
            value = rng.normal(0.0, 0.5, w.shape)
        elif w.ndim > 1:
            value = rng.normal(0.0, 1.5 / np.sqrt(np.prod(w.shape[:-1])), w.shape)
        elif param == "moving_variance":
            value = rng.uniform(0.5, 1.5, w.shape)
        else:
            value = (param == "gamma") + rng.normal(0.0, 0.2 if param == "gamma" else 0.1, w.shape)
        weights[name] = value.astype(np.float32)
    return weights
