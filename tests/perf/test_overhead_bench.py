"""Smoke test of bench/overhead.py, and the check that its stock models are crosstrain's function.

    .venv/bin/python -m pytest tests/perf/test_overhead_bench.py -q

No timings are asserted: speed figures come from `make bench-overhead`, not from tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from parity_weights import large_weights  # tests/parity_weights.py

from crosstrain.config import BiLSTMSpec, CNNSpec, MLPSpec, TransformerSpec
from crosstrain.models import spec as neutral

IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [12, 12, 3]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 50, "seq_len": 10}
TABLE_META = {"modality": "table", "features": ["a", "b", "c", "d"], "classes": ["x", "y", "z"],
              "feature_mean": [5.8, 3.0, 3.7, 1.2], "feature_std": [0.8, 0.4, 1.7, 0.7]}
CASES = [
    (MLPSpec(hidden=[16, 8], activation="tanh"), TABLE_META),
    (CNNSpec(widths=[4, 8], dense=16, batch_norm=True, bn_momentum=0.8), IMAGE_META),
    (CNNSpec(widths=[4], kernel_size=5, dense=None, batch_norm=False), IMAGE_META),
    (BiLSTMSpec(embedding_dim=8, units=6, pooling="max", dense=12), TEXT_META),
    (TransformerSpec(embedding_dim=16, layers=2, heads=4, ff_dim=24, ln_epsilon=1e-3), TEXT_META),
]


@pytest.mark.slow
def test_overhead_bench_prints_ratios_per_framework(iris_prepared, repo_root, tmp_path):
    # given iris prepared, when the bench runs 2 repeats of 3 steps
    figures = tmp_path / "overhead.json"
    out = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "overhead.py"), "--cases", "mlp/iris", "--repeats", "2",
         "--steps", "3", "--params", str(repo_root / "params.yaml"),
         "--prepared-root", str(iris_prepared.parent), "--json", str(figures)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    # then its table has one row per framework; the step ratio is crosstrain's time over the bare loop's,
    # the model ratio the bare loop's on crosstrain's model over the same loop's on the stock model
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith(("tensorflow ", "pytorch "))]
    assert sorted(row[0] for row in rows) == ["pytorch", "tensorflow"]
    assert all(row[1:3] == ["mlp/iris", "mlp[16]-relu"] for row in rows)
    results = json.loads(figures.read_text())
    for framework in ("tensorflow", "pytorch"):
        iris = results[framework]["mlp/iris"]
        assert iris["crosstrain_ms"] > 0 and iris["bare_ms"] > 0 and iris["stock_ms"] > 0
        assert iris["ratio_min"] <= iris["ratio"] <= iris["ratio_max"]
        assert iris["model_ratio_min"] <= iris["model_ratio"] <= iris["model_ratio_max"]
        assert iris["total_ratio"] > 0 and iris["stock_logits_gap"] <= 1e-4
        assert iris["deterministic_ms"] > 0 and iris["deterministic_ratio"] > 0  # train.deterministic's cost


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
@pytest.mark.parametrize(("spec", "meta"), CASES, ids=[neutral.describe(spec) for spec, _ in CASES])
def test_stock_models_compute_crosstrains_function(framework, spec, meta, repo_root, monkeypatch):
    # Given crosstrain's model and the bench's stock model, both holding the same random weights
    monkeypatch.syspath_prepend(str(repo_root / "bench"))
    import importlib

    from crosstrain import backends

    stock = importlib.import_module({"pytorch": "stock_torch", "tensorflow": "stock_keras"}[framework])
    backend = backends.get(framework)
    weights = large_weights(spec, meta, seed=4)
    ours = backend.build_model(spec, meta)
    backend.set_weights(ours, weights)
    theirs, to_input = stock.build(spec, meta, weights)
    rng = np.random.default_rng(2)
    if meta is TEXT_META:
        x = rng.integers(0, meta["vocab_size"], (6, meta["seq_len"])).astype(np.int64)
    else:
        x = rng.random((6, *meta.get("image_shape", [len(meta.get("features", []))])), dtype=np.float32)
    # When both predict / Then the logits agree: the stock model is the same function, not a smaller one
    np.testing.assert_allclose(stock.predict(theirs, to_input(x)), backend.predict_logits(ours, x),
                               atol=1e-4, rtol=1e-4)
    # And it trains as many parameters (PyTorch's stock LSTM also trains its second bias, bias_hh)
    if framework == "pytorch":
        count = sum(p.numel() for p in theirs.parameters() if p.requires_grad)
        extra = 2 * 4 * spec.units if isinstance(spec, BiLSTMSpec) else 0
    else:
        count, extra = int(sum(np.prod(v.shape) for v in theirs.trainable_variables)), 0
    assert count == backend.param_count(ours) + extra
