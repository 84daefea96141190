"""The read-back half of the fairness record: what each library holds, and a one-sided change is named.

The CNN (batch norm, dropout) and the Transformer (layer norm, attention dropout) are built by
crosstrain in both frameworks with one training budget (label smoothing, clipping), and
each framework's own `fairness_readback` reads the live optimiser, loss, layers and runtime. Then one
setting is changed in the PyTorch objects only - as a bug in crosstrain's PyTorch path would change it
- and the comparison must name that field. No training: these take a second or two.

    .venv/bin/python -m pytest tests/fairness/test_readback.py -q
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from crosstrain.config import CNNSpec, TrainConfig, TransformerSpec
from crosstrain.fairness import compare
from crosstrain.fairness.record import build
from crosstrain.models import tf as tf_models
from crosstrain.models import torch as torch_models
from crosstrain.training import tf as tf_training
from crosstrain.training import tf_readback, torch_readback
from crosstrain.training import torch as torch_training

IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [28, 28, 1]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 200, "seq_len": 12}
BUDGET = TrainConfig(learning_rate=0.003, label_smoothing=0.1, clip_norm=0.5, threads=1)
SPECS = {
    "cnn": (CNNSpec(widths=[8, 16], dense=16, batch_norm=True, dropout=0.3), IMAGE_META),
    "transformer": (TransformerSpec(embedding_dim=16, layers=1, heads=2, ff_dim=32, dropout=0.2), TEXT_META),
}


def _readbacks(kind: str, break_torch: Callable[..., None] | None = None,
               mp: pytest.MonkeyPatch | None = None, budget: TrainConfig = BUDGET):
    """{framework: [record]} of freshly built models and train steps (seed 0), PyTorch's optionally broken."""
    spec, meta = SPECS[kind]
    tf_training.configure(1, 0)
    torch_training.configure(1, 0)
    keras_model, torch_model = tf_models.build_model(spec, meta), torch_models.build_model(spec, meta)
    example = np.zeros((1, 28, 28, 1), np.float32) if kind == "cnn" else np.zeros((1, 12), np.int64)
    tf_step = tf_training.make_train_step(keras_model, budget, example)
    torch_step = torch_training.make_train_step(torch_model, budget, example)
    if break_torch is not None:
        break_torch(torch_step, torch_model, mp)
    about = {"task": kind, "seed": 0}
    return {"tensorflow": [build(about, tf_readback.fairness_readback(tf_step, keras_model))],
            "pytorch": [build(about, torch_readback.fairness_readback(torch_step, torch_model))]}


def _modules(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def _norm_eps(step, model, mp):
    for m in _modules(model, nn.BatchNorm2d):
        m.eps = 1e-5  # PyTorch's default instead of Keras' 1e-3


def _norm_momentum(step, model, mp):
    for m in _modules(model, nn.BatchNorm2d):
        m.momentum = 0.5  # crosstrain's is 1 - Keras' 0.9


def _dropout(step, model, mp):
    for m in _modules(model, nn.Dropout):
        m.p = 0.5


def _label_smoothing(step, model, mp):
    step.loss_fn = nn.CrossEntropyLoss(label_smoothing=0.0)


def _loss_reduction(step, model, mp):
    step.loss_fn = nn.CrossEntropyLoss(label_smoothing=BUDGET.label_smoothing, reduction="sum")


def _clipping(step, model, mp):
    step.clip_norm = 1.0


def _weight_decay(step, model, mp):
    for group in step.optimizer.param_groups:
        group["weight_decay"] = 0.01  # crosstrain's Adam has none: L2 in PyTorch's Adam


def _betas(step, model, mp):
    for group in step.optimizer.param_groups:
        group["betas"] = (0.9, 0.98)


def _amsgrad(step, model, mp):
    for group in step.optimizer.param_groups:
        group["amsgrad"] = True


def _tf32(step, model, mp):
    torch.backends.cuda.matmul.allow_tf32 = True  # the test puts it back


def _determinism(step, model, mp):
    mp.setattr(torch, "are_deterministic_algorithms_enabled", lambda: True)  # as after use_deterministic_...


def _inter_op_threads(step, model, mp):
    # PyTorch fixes its inter-op pool at first use; a second pool size is what the library would report.
    real = torch.get_num_interop_threads
    mp.setattr(torch, "get_num_interop_threads", lambda: real() + 1)


def _layer_norm_eps(step, model, mp):
    for m in _modules(model, nn.LayerNorm):
        m.eps = 1e-3


@pytest.mark.parametrize("kind", list(SPECS))
def test_both_libraries_hold_the_same_set_up(kind):
    records = _readbacks(kind)
    audit = compare.audit(kind, records)
    assert audit["fair"], audit["differences"]
    fields = records["pytorch"][0]["fields"]
    # What was read is the budget, in each library's own objects (not echoed from the config).
    for fw, [record] in records.items():
        got = record["fields"]
        assert got["loss.label_smoothing"] == pytest.approx(0.1), fw
        assert got["optimizer.clip_global_norm"] == 0.5, fw
        assert got["dropout.rates"] == ([0.3] if kind == "cnn" else [0.2] * len(got["dropout.rates"])), fw
    assert fields["normalization.batch_norm" if kind == "cnn" else "normalization.layer_norm"]


@pytest.mark.parametrize(("kind", "broken", "field"), [
    ("cnn", _norm_eps, "normalization.batch_norm"),
    ("cnn", _norm_momentum, "normalization.batch_norm"),
    ("cnn", _dropout, "dropout.rates"),
    ("cnn", _label_smoothing, "loss.label_smoothing"),
    ("cnn", _loss_reduction, "loss.reduction"),
    ("cnn", _clipping, "optimizer.clip_global_norm"),
    ("cnn", _weight_decay, "optimizer.weight_decay"),
    ("cnn", _betas, "optimizer.betas"),
    ("cnn", _amsgrad, "optimizer.amsgrad"),
    ("cnn", _tf32, "precision.tf32_matmul"),
    ("cnn", _determinism, "determinism.ops"),
    ("cnn", _inter_op_threads, "threads.inter_op"),
    ("transformer", _layer_norm_eps, "normalization.layer_norm"),
    ("transformer", _dropout, "dropout.rates"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
def test_a_setting_changed_in_pytorch_only_is_named(kind, broken, field, monkeypatch):
    try:
        lines = compare.differences(kind, _readbacks(kind, broken, monkeypatch))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False  # crosstrain's setting (see training.torch.configure)
    assert any(line.startswith(f"unfair comparison: {kind}: {field} differs: ") for line in lines), lines


SGD = BUDGET.model_copy(update={"optimizer": "sgd", "momentum": 0.9})


def test_sgd_momentum_is_read_from_both_optimisers_and_a_change_is_named(monkeypatch):
    fair = _readbacks("cnn", budget=SGD)
    assert [r[0]["fields"]["optimizer.momentum"] for r in fair.values()] == [0.9, 0.9]
    assert compare.audit("cnn", fair)["fair"]

    def nesterov(step, model, mp):
        for group in step.optimizer.param_groups:
            group["nesterov"] = True

    lines = compare.differences("cnn", _readbacks("cnn", nesterov, monkeypatch, budget=SGD))
    wanted = "unfair comparison: cnn: optimizer.nesterov differs: "
    assert any(line.startswith(wanted) for line in lines), lines
