"""The framework part of a checkpoint (optimiser state and dropout RNG) puts a train step back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain import backends
from crosstrain.config import CNNSpec, Framework, TrainConfig

META = {"modality": "image", "image_shape": [8, 8, 1], "classes": ["a", "b"], "pixel_mean": [0.0],
        "pixel_std": [1.0], "scale": "unit"}


@pytest.mark.parametrize("framework", list(Framework))
def test_restored_state_repeats_the_next_step_with_its_dropout(framework):
    # Given a model with dropout and Adam, after one step, with its weights and state saved
    backend = backends.get(framework)
    backend.configure(1, 0, True)
    model = backend.build_model(CNNSpec(widths=[4], dense=8, dropout=0.5, batch_norm=False), META)
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 1), dtype=np.float32), rng.integers(0, 2, 16)
    step = backend.make_train_step(model, TrainConfig(), x[:1])
    step(x, y)
    weights, state = backend.get_weights(model), backend.get_state(step, model)
    assert any(key.startswith("rng/") for key in state) and any(key.startswith("optimizer/") for key in state)
    first, after_first = float(step(x, y)), backend.get_weights(model)
    second = float(step(x, y))

    # When weights and state are put back
    backend.set_weights(model, weights)
    backend.set_state(step, model, state)

    # Then the next step repeats exactly (same dropout masks, same Adam update), though steps differ
    assert first != second
    assert float(step(x, y)) == first
    for name, value in backend.get_weights(model).items():
        np.testing.assert_array_equal(value, after_first[name])
