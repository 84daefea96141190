"""The fairness record's PyTorch half: what a run actually uses, read back from the live objects.

`crosstrain.fairness` compares it field by field with `crosstrain.training.tf_readback`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from crosstrain.models import torch_layers
from crosstrain.models.torch import autocast
from crosstrain.training.torch_device import device_builds, device_name

if TYPE_CHECKING:
    from crosstrain.training.torch import TrainStep


def fairness_readback(step: TrainStep, model: nn.Module) -> dict[str, Any]:
    """What this run actually uses, read from the live optimiser, loss, modules and PyTorch's runtime.

    Field names and conventions are `crosstrain.training.tf_readback.fairness_readback`'s: batch-norm momentum
    in Keras' convention (1 - PyTorch's), devices "cpu" / "cuda:N".
    """
    group = step.optimizer.param_groups[0]
    adam = isinstance(step.optimizer, torch.optim.Adam)
    modules = list(model.modules())
    norms = [m for m in modules if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    rates = [m.p for m in modules if isinstance(m, nn.Dropout)]
    rates += [m.dropout for m in modules if isinstance(m, nn.LSTM | nn.MultiheadAttention)]
    policy = autocast(step.precision, step.device)
    fast = getattr(policy, "fast_dtype", None)
    # A Keras-style batch norm (if crosstrain uses one) keeps the biased variance; PyTorch's the unbiased.
    keras_style = getattr(torch_layers, "KerasBatchNorm2d", ())
    biased = all(isinstance(m, keras_style) for m in norms) if keras_style else False
    return {
        "optimizer.name": type(step.optimizer).__name__.lower(),
        "optimizer.betas": list(group["betas"]) if adam else None,
        "optimizer.epsilon": group["eps"] if adam else None,
        "optimizer.epsilon_placement": "after the bias correction" if adam else None,
        "optimizer.amsgrad": bool(group["amsgrad"]) if adam else None,
        "optimizer.momentum": None if adam else float(group["momentum"]),
        "optimizer.nesterov": None if adam else bool(group["nesterov"]),
        "optimizer.weight_decay": float(group["weight_decay"]),
        "optimizer.clip_global_norm": step.clip_norm,  # clip_grad_norm_ over every parameter, in the step
        "optimizer.clip_norm_per_tensor": None,
        "optimizer.clip_value": None,
        "loss.name": "cross_entropy" if isinstance(step.loss_fn, nn.CrossEntropyLoss)
        else type(step.loss_fn).__name__,
        "loss.from_logits": True,  # CrossEntropyLoss takes logits
        "loss.label_smoothing": float(step.loss_fn.label_smoothing),
        "loss.reduction": step.loss_fn.reduction,
        "dropout.rates": sorted(float(r) for r in rates if r),
        # momentum=None (a cumulative average) is not what crosstrain builds: 0.0 would show up as unequal.
        "normalization.batch_norm": sorted([1.0 - float(m.momentum or 0.0), float(m.eps)] for m in norms),
        "normalization.layer_norm": sorted(float(m.eps) for m in modules if isinstance(m, nn.LayerNorm)),
        "normalization.running_variance": ("biased" if biased else "unbiased") if norms else None,
        "threads.intra_op": torch.get_num_threads(),
        "threads.inter_op": torch.get_num_interop_threads(),
        "device": sorted({str(p.device) for p in model.parameters()}),
        "device.name": device_name(str(step.device)),
        "device.cuda_build": device_builds()["cuda"],
        "device.cudnn_build": device_builds()["cudnn"],
        "precision.policy": f"mixed_{str(fast).removeprefix('torch.')}" if fast is not None else "float32",
        "precision.variables": sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()}),
        "precision.tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "precision.tf32_conv": bool(torch.backends.cudnn.allow_tf32),
        "determinism.ops": bool(torch.are_deterministic_algorithms_enabled()),
        "compile.scope": "the model (forward, backward); the optimiser step eager" if step.compiled
        else "none",
    }
