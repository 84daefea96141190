"""FLOPs from the spec against PyTorch's own counter on crosstrain's real torch models."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from crosstrain.config import BiLSTMSpec, CNNSpec, MLPSpec, SoftmaxSpec, TransformerSpec  # noqa: E402
from crosstrain.models import torch as torch_models  # noqa: E402
from crosstrain.models.flops import flops_per_example, training_flops_per_example  # noqa: E402

TABLE_META = {
    "modality": "table",
    "features": ["a", "b", "c", "d"],
    "classes": ["x", "y", "z"],
    "feature_mean": [0.0] * 4,
    "feature_std": [1.0] * 4,
}
# 27×27: odd sizes exercise the pool's floor (27 → 13 → 6).
IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [27, 27, 3]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 200, "seq_len": 12}
BATCH = 4


def counted(model, x) -> int:
    """FLOPs FlopCounterMode sees for one example of the batch `x`."""
    model.eval()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    # FlopCounterMode has no formula for the CPU's fused attention kernel; the math backend runs the
    # same two matmuls as bmm, which it counts.
    with FlopCounterMode(display=False) as counter, torch.inference_mode(), sdpa_kernel(SDPBackend.MATH):
        model(x)
    return counter.get_total_flops() // len(x)


def example(meta):
    if meta["modality"] == "table":
        return torch.randn(BATCH, len(meta["features"]))
    if meta["modality"] == "image":
        return torch.rand(BATCH, *meta["image_shape"])
    return torch.randint(0, meta["vocab_size"], (BATCH, meta["seq_len"]))


@pytest.mark.parametrize(
    ("spec", "meta"),
    [
        (SoftmaxSpec(), TABLE_META),
        (MLPSpec(hidden=[16, 8]), TABLE_META),
        (CNNSpec(widths=[8, 16]), IMAGE_META),
        (CNNSpec(widths=[4], dense=None, batch_norm=False, kernel_size=5), IMAGE_META),
        (TransformerSpec(embedding_dim=16, layers=2, heads=2, ff_dim=32), TEXT_META),
    ],
    ids=["softmax", "mlp", "cnn", "cnn-k5-nodense", "transformer"],
)
def test_matches_flop_counter(spec, meta):
    # Given crosstrain's real PyTorch model of the spec
    model = torch_models.build_model(spec, meta)
    # When PyTorch counts its matmuls and convolutions
    expected = counted(model, example(meta))
    # Then the analytic count agrees (it ignores the same elementwise ops FlopCounterMode does)
    assert flops_per_example(spec, meta) == pytest.approx(expected, rel=0.02)
    assert training_flops_per_example(spec, meta) == 3 * flops_per_example(spec, meta)


def test_bilstm_matches_unrolled_lstm():
    # FlopCounterMode does not see inside nn.LSTM's fused kernel (it counts only the head's addmm), so the
    # LSTM is unrolled by hand with the model's own weights: the unrolled outputs must equal nn.LSTM's
    # (so it is the same computation) and its products are then counted like any other model's.
    spec = BiLSTMSpec(embedding_dim=16, units=8, dense=12)
    model = torch_models.build_model(spec, TEXT_META).eval()
    ids = example(TEXT_META)
    lstm = model.layers["lstm"]
    with torch.inference_mode():
        embedded = model.layers["embedding"](ids)
        native, _ = lstm(embedded)
        head_only = counted(model, ids)  # what FlopCounterMode sees: the head
        with FlopCounterMode(display=False) as counter:
            forward = _unroll(lstm, embedded, "l0", reverse=False)
            backward = _unroll(lstm, embedded, "l0_reverse", reverse=True)
        unrolled = torch.cat([forward, backward], dim=-1)
    torch.testing.assert_close(unrolled, native, atol=1e-5, rtol=1e-5)
    lstm_flops = counter.get_total_flops() // BATCH
    assert flops_per_example(spec, TEXT_META) == pytest.approx(lstm_flops + head_only, rel=0.02)


def _unroll(lstm, x, suffix: str, reverse: bool):
    """One direction of nn.LSTM step by step: gates = x·W_ihᵀ + h·W_hhᵀ + b, order i, f, g, o."""
    w_ih, w_hh = getattr(lstm, f"weight_ih_{suffix}"), getattr(lstm, f"weight_hh_{suffix}")
    bias = getattr(lstm, f"bias_ih_{suffix}") + getattr(lstm, f"bias_hh_{suffix}")
    batch, steps, _ = x.shape
    h = c = x.new_zeros(batch, lstm.hidden_size)
    outputs = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        i, f, g, o = (x[:, t] @ w_ih.T + h @ w_hh.T + bias).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs[t] = h
    return torch.stack(outputs, dim=1)


def test_known_sizes():
    # Worked by hand: mlp 4→16→8→3 = 2·(64 + 128 + 24)
    assert flops_per_example(MLPSpec(hidden=[16, 8]), TABLE_META) == 432
    # cnn k3, 27×27×3 → 8 (27²) → pool 13 → 16 (13²) → pool 6 → dense 64 → 10
    expected = 2 * (27 * 27 * 9 * 3 * 8 + 13 * 13 * 9 * 8 * 16 + 16 * 64 + 64 * 10)
    assert flops_per_example(CNNSpec(widths=[8, 16]), IMAGE_META) == expected
