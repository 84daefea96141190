"""The registered model as a deployer loads it: one pyfunc for both frameworks, raw inputs to class names.

Real TensorFlow and PyTorch models built from the same neutral weights, logged to a real sqlite MLflow
store and loaded back with `mlflow.pyfunc.load_model`, as `mlflow models serve` does; the HTTP path
itself is tests/tracking/test_serve.py.
"""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pandas as pd
import pytest

from crosstrain import backends
from crosstrain.config import TaskConfig, load_settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.data.ingest import ingest
from crosstrain.tracking import pyfunc

FRAMEWORKS = ("tensorflow", "pytorch")


@pytest.fixture(scope="module")
def text_prepared(tmp_path_factory, repo_root):
    """The default text task (fine-food reviews), 200 rows, seq_len 24, prepared once."""
    task = load_settings(repo_root / "params.yaml").task("text")
    text = task.preprocess.text.model_copy(update={"seq_len": 24, "vocab_size": 500})
    preprocess = task.preprocess.model_copy(update={"text": text})
    task = task.model_copy(update={"limit": 200, "preprocess": preprocess})
    out = tmp_path_factory.mktemp("prepared") / "text"
    ingest("text", task, 42, out)
    return out, task


def _log_both(prepared, spec, store):
    """Each framework's model, from the PyTorch model's weights, logged and loaded back as the pyfunc."""
    mlflow.set_tracking_uri(store)
    # This store's own experiment: an earlier test in the worker may have left another store's active.
    mlflow.set_experiment("pyfunc")
    meta = load_meta(prepared)
    weights = None
    loaded = {}
    for framework in ("pytorch", "tensorflow"):
        backend = backends.get(framework)
        model = backend.build_model(spec, meta)
        if weights is None:
            weights = backend.get_weights(model)
        backend.set_weights(model, weights)
        inputs = pyfunc.Inputs.from_prepared(framework, meta, prepared)
        with mlflow.start_run():
            info = pyfunc.log_model(backend, model, inputs, inputs.example(prepared))
        loaded[framework] = (mlflow.pyfunc.load_model(info.model_uri), backend, model)
    return loaded


@pytest.mark.slow  # prepares the reviews and logs a model in each framework
def test_text_models_take_raw_strings_and_return_class_names(text_prepared, mlflow_store):
    # Given both frameworks' text models, logged from the same weights
    prepared, task = text_prepared
    loaded = _log_both(prepared, task.model, mlflow_store)
    reviews = ["Lovely tea, I drink it every morning.", "Stale and bitter. Never again!"]
    # When a caller sends two raw review strings
    out = {fw: model.predict(reviews) for fw, (model, _, _) in loaded.items()}
    classes = load_meta(prepared)["classes"]
    for framework, frame in out.items():
        # Then each gets a class name and one probability per class, summing to 1
        assert list(frame.columns) == ["class", "probability", *(f"p({c})" for c in classes)]
        assert set(frame["class"]) <= set(classes) and len(frame) == 2
        probs = frame[[f"p({c})" for c in classes]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
        # and the probabilities are the softmax of the native model's logits on the tokenized text
        _, backend, model = loaded[framework]
        tokenizer_ids = pyfunc.Inputs.from_prepared(framework, load_meta(prepared), prepared).encode(reviews)
        logits = backend.predict_logits(model, tokenizer_ids)
        expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    # and both frameworks answer alike: same weights, same classes, same probabilities
    assert out["tensorflow"]["class"].tolist() == out["pytorch"]["class"].tolist()
    np.testing.assert_allclose(out["tensorflow"]["probability"], out["pytorch"]["probability"], atol=1e-5)


def test_table_models_take_named_feature_columns_in_any_order(iris_prepared, mlflow_store):
    # Given both frameworks' iris models from the same weights
    loaded = _log_both(iris_prepared, TaskConfig().model, mlflow_store)
    meta = load_meta(iris_prepared)
    test = load_split(iris_prepared, "test")
    frame = pd.DataFrame(test.x[:5], columns=meta["features"])
    # When the caller's columns come in another order, with an extra one
    shuffled = frame[list(reversed(meta["features"]))].assign(comment="ignored")
    for _framework, (model, backend, native) in loaded.items():
        out = model.predict(shuffled)
        # Then the prediction is the native model's on the features in training order
        logits = backend.predict_logits(native, test.x[:5])
        assert out["class"].tolist() == [meta["classes"][i] for i in logits.argmax(axis=1)]


def test_a_missing_feature_column_is_named(iris_prepared):
    inputs = pyfunc.Inputs.from_prepared("pytorch", load_meta(iris_prepared), iris_prepared)
    frame = pd.DataFrame(load_split(iris_prepared, "test").x[:2], columns=list(inputs.features))
    with pytest.raises(pyfunc.ServingInputError, match=re.escape(repr(inputs.features[1]))):
        inputs.encode(frame.drop(columns=[inputs.features[1]]))


def test_images_are_scaled_as_in_training(tmp_path):
    # Given an image task standardised per channel, as ingest records it
    meta = {"scale": "standardize", "pixel_mean": [0.5], "pixel_std": [0.25]}
    inputs = pyfunc.Inputs("pytorch", "image", ("a", "b"), image_shape=(2, 2, 1), image_meta=meta)
    pixels = np.array([[[0, 255], [51, 204]]], dtype=np.int64)  # (n, h, w): one channel left out
    # Then the model gets the training scaling of the same pixels
    np.testing.assert_allclose(inputs.encode(pixels)[..., 0], ((pixels / 255.0) - 0.5) / 0.25, rtol=1e-6)
    with pytest.raises(pyfunc.ServingInputError, match=r"\(n, 2, 2, 1\)"):
        inputs.encode(np.zeros((1, 3, 3)))
    with pytest.raises(pyfunc.ServingInputError, match="0-255"):
        inputs.encode(np.full((1, 2, 2), 300))


def test_texts_must_be_strings():
    inputs = pyfunc.Inputs("pytorch", "text", ("a", "b"), vocab=("<pad>", "<unk>", "tea"), seq_len=4)
    np.testing.assert_array_equal(inputs.encode(["tea tea", "coffee"]), [[2, 2, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(pyfunc.ServingInputError, match="item 1 is int"):
        inputs.encode(["tea", 3])
