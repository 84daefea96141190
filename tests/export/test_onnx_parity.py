"""ONNX parity: every architecture, in both frameworks, exports to ONNX and runs in ONNX Runtime with the
native model's logits (within 1e-4), at any batch size.

Models are built from crosstrain's shared initial weights (no training needed), with batch-norm
statistics moved off their initial 0/1 so that folding them into the graph is really checked.

    .venv/bin/python -m pytest tests/export/test_onnx_parity.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain import backends
from crosstrain.config import BiLSTMSpec, CNNSpec, Framework, MLPSpec, SoftmaxSpec, TransformerSpec
from crosstrain.export.step import onnx_predict
from crosstrain.models import spec as neutral

TABLE_META = {
    "modality": "table",
    "classes": ["setosa", "versicolor", "virginica"],
    "features": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "feature_mean": [5.8, 3.0, 3.7, 1.2],
    "feature_std": [0.8, 0.4, 1.7, 0.7],
}
IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [28, 28, 1]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 200, "seq_len": 12}

SPECS = [
    SoftmaxSpec(),
    MLPSpec(hidden=[16, 8]),
    CNNSpec(widths=[8, 16], dense=16, batch_norm=True),
    BiLSTMSpec(embedding_dim=16, units=8, pooling="max", dense=12),
    TransformerSpec(embedding_dim=16, layers=2, heads=2, ff_dim=32),
]
OPSET = 18
ATOL = 1e-4


def inputs(spec, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """The meta and 8 inputs of the spec's modality: features, pixels, or padded int64 token ids."""
    if isinstance(spec, SoftmaxSpec | MLPSpec):
        x = rng.normal(TABLE_META["feature_mean"], TABLE_META["feature_std"], (8, 4))
        return TABLE_META, x.astype(np.float32)
    if isinstance(spec, CNNSpec):
        return IMAGE_META, rng.random((8, 28, 28, 1), dtype=np.float32)
    x = rng.integers(1, TEXT_META["vocab_size"], size=(8, TEXT_META["seq_len"]))
    x[:, 9:] = 0  # trailing padding, as text preparation writes it
    return TEXT_META, x.astype(np.int64)


def weights(spec, meta: dict, rng: np.random.Generator) -> neutral.Weights:
    """The shared initial weights, batch-norm statistics and affine parameters made non-trivial."""
    w = neutral.initial_weights(spec, meta, seed=0)
    for name, value in w.items():
        if name.endswith(("moving_mean", "beta")):
            w[name] = rng.normal(0.0, 0.5, value.shape).astype(np.float32)
        elif name.endswith(("moving_variance", "gamma")):
            w[name] = rng.uniform(0.5, 2.0, value.shape).astype(np.float32)
    return w


@pytest.mark.parametrize("framework", list(Framework), ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_onnx_matches_native_at_any_batch(spec, framework, tmp_path):
    # given: a model of this architecture with crosstrain's initial weights
    rng = np.random.default_rng(7)
    meta, x = inputs(spec, rng)
    backend = backends.get(framework)
    model = backend.build_model(spec, meta)
    backend.set_weights(model, weights(spec, meta, rng))
    native = backend.make_predict(model)(x)

    # when: it is exported and run in ONNX Runtime, at the batch it was traced with and at batch 1 and 3
    path = tmp_path / "model.onnx"
    converter = backend.export_onnx(model, path, x, OPSET)
    predict = onnx_predict(path, threads=1)

    # then: the logits agree, the batch dimension is symbolic, the opset is the one asked for
    np.testing.assert_allclose(predict(x), native, atol=ATOL, rtol=0)
    np.testing.assert_allclose(predict(x[:1]), native[:1], atol=ATOL, rtol=0)
    np.testing.assert_allclose(predict(x[2:5]), native[2:5], atol=ATOL, rtol=0)
    import onnx

    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] and len(proto.graph.input) == 1
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == OPSET
    assert converter
