"""The PyTorch side of every model: build, weights in and out, predict, save, load.

Mirrors `crosstrain.models.tf` name for name; the modules themselves live in `torch_layers.py`.
(A module named `torch.py` is safe under absolute imports; never run it as a script.)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from crosstrain.config import ModelSpec
from crosstrain.models.spec import Weights, check
from crosstrain.models.torch_layers import (  # noqa: F401  (MLP, Standardize, ACTIVATIONS: public here before)
    ACTIVATIONS,
    CNN,
    MLP,
    BiLSTM,
    CrosstrainModel,
    PositionEmbedding,
    Standardize,
    Transformer,
)

MODEL_FILE = "model.pt"
ARCH_FILE = "arch.json"

ARCHITECTURES: dict[str, type[CrosstrainModel]] = {
    "softmax": MLP,
    "mlp": MLP,
    "cnn": CNN,
    "bilstm": BiLSTM,
    "transformer": Transformer,
}


def build_model(spec: ModelSpec, meta: dict, precision: str = "fp32") -> nn.Module:
    """The PyTorch model of `spec` for the prepared data `meta` describes, ending in logits.

    The weights are float32 either way; `precision="mixed"` marks the model so that the train step
    and `make_predict` run it under `torch.autocast("cpu", torch.bfloat16)` (PyTorch's mixed precision
    is a context around the computation, not a property of the layers as in Keras).
    """
    if precision not in ("fp32", "mixed"):
        raise ValueError(f"precision must be fp32 or mixed, got {precision!r}")
    check(spec, meta)
    model = ARCHITECTURES[spec.kind](spec, meta)
    model.crosstrain_precision = precision
    # Remember how to rebuild it: the native state_dict holds weights, not architecture.
    model.crosstrain_arch = {"spec": spec.model_dump(), "meta": meta}
    if precision != "fp32":
        model.crosstrain_arch["precision"] = precision
    return model


def precision_of(model: nn.Module) -> str:
    """"mixed" when the model was built (or saved) with precision="mixed", else "fp32"."""
    return getattr(model, "crosstrain_precision", "fp32")


def input_dtype(model: nn.Module) -> type[np.number]:
    """What the model takes: float32 features or pixels, int64 token ids (its class says which)."""
    return cast(CrosstrainModel, model).input_dtype


def autocast(precision: str, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """bf16 autocast on `device`'s kind ("cpu" or "cuda") for "mixed", nothing for "fp32"."""
    if precision == "mixed":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def place(model: nn.Module, device: str) -> nn.Module:
    """The model moved to the resolved `device` ("cpu" or "cuda:N"), e.g. a loaded one to be evaluated."""
    return model.to(torch.device(device))


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the train step moves them to the run's device)."""
    return next(model.parameters()).device


def to_device(array: np.ndarray, device: torch.device, dtype: type[np.number] | None = None) -> torch.Tensor:
    """A host array as a tensor on `device`: pinned and copied without blocking when it is a GPU.

    The copy is enqueued on the GPU's stream, so it is part of the step that follows it (and of its
    timing, as TensorFlow's copy is part of its step); the CPU gets the array itself, not a copy.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))
    if device.type == "cpu":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


# --- weights in the neutral (Keras) layout -------------------------------------------------------

Convert = Callable[[np.ndarray], np.ndarray]


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _transpose(a: np.ndarray) -> np.ndarray:
    return a.T


def _layers(model: nn.Module) -> nn.ModuleDict:
    """The named layers every architecture keeps in `layers` (nn.Module's typing knows no such attribute)."""
    return cast(nn.ModuleDict, model.layers)


def _built(tensor: torch.Tensor | None) -> torch.Tensor:
    """A bias or running statistic, which torch types as optional: crosstrain builds every layer with it."""
    if tensor is None:
        raise ValueError("a layer of this model lacks a bias or running statistic that crosstrain builds")
    return tensor


def _slots(model: nn.Module) -> Iterator[tuple[str, torch.Tensor, Convert, Convert]]:
    """(neutral name, torch tensor, neutral → torch, torch → neutral) for every neutral weight."""
    for name, module in _layers(model).items():
        if isinstance(module, nn.Linear):
            yield f"{name}/kernel", module.weight, _transpose, _transpose  # (in, out) ↔ (out, in)
            yield f"{name}/bias", module.bias, _same, _same
        elif isinstance(module, nn.Conv2d):
            # (kh, kw, in, out) ↔ (out, in, kh, kw)
            yield (
                f"{name}/kernel",
                module.weight,
                lambda a: a.transpose(3, 2, 0, 1),
                lambda a: a.transpose(2, 3, 1, 0),
            )
            yield f"{name}/bias", _built(module.bias), _same, _same
        elif isinstance(module, nn.BatchNorm2d):
            yield f"{name}/gamma", module.weight, _same, _same
            yield f"{name}/beta", module.bias, _same, _same
            yield f"{name}/moving_mean", _built(module.running_mean), _same, _same
            yield f"{name}/moving_variance", _built(module.running_var), _same, _same
        elif isinstance(module, nn.LayerNorm):
            yield f"{name}/gamma", module.weight, _same, _same
            yield f"{name}/beta", module.bias, _same, _same
        elif isinstance(module, nn.Embedding):
            yield f"{name}/embeddings", module.weight, _same, _same
        elif isinstance(module, nn.LSTM):
            # Gate order i, f, g, o is Keras' i, f, c, o: kernels only transpose. The one Keras bias goes
            # into bias_ih; bias_hh stays frozen at zero (see torch_layers.BiLSTM): not a neutral weight.
            for direction, suffix in (("forward_lstm", "l0"), ("backward_lstm", "l0_reverse")):
                yield f"{direction}/kernel", getattr(module, f"weight_ih_{suffix}"), _transpose, _transpose
                yield (
                    f"{direction}/recurrent_kernel",
                    getattr(module, f"weight_hh_{suffix}"),
                    _transpose,
                    _transpose,
                )
                yield f"{direction}/bias", getattr(module, f"bias_ih_{suffix}"), _same, _same
        elif isinstance(module, PositionEmbedding):
            yield f"{name}/embeddings", module.embeddings, _same, _same


def set_weights(model: nn.Module, weights: Weights) -> None:
    """Load neutral weights, converting Keras layouts to torch's; missing or extra arrays are errors."""
    slots = list(_slots(model))
    names = {slot[0] for slot in slots}
    if names != weights.keys():
        raise KeyError(
            f"weights do not fit the model: missing {sorted(names - weights.keys())}, "
            f"unexpected {sorted(weights.keys() - names)}"
        )
    with torch.no_grad():
        for name, tensor, to_torch, _ in slots:
            value = torch.from_numpy(
                np.ascontiguousarray(to_torch(np.asarray(weights[name], dtype=np.float32)))
            )
            if value.shape != tensor.shape:
                raise ValueError(
                    f"{name}: model has shape {tuple(tensor.shape)}, weights {tuple(value.shape)}"
                )
            tensor.copy_(value)
        for module in _layers(model).values():
            if isinstance(module, nn.LSTM):
                for suffix in ("l0", "l0_reverse"):
                    getattr(module, f"bias_hh_{suffix}").zero_()


def get_weights(model: nn.Module) -> Weights:
    """The weights as neutral "<layer>/<param>" arrays in the Keras layout."""
    return {
        name: np.ascontiguousarray(to_neutral(tensor.detach().cpu().numpy())).copy()
        for name, tensor, _, to_neutral in _slots(model)
    }


def param_count(model: nn.Module) -> int:
    """Trainable parameters as PyTorch counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- inference, saving, logging ------------------------------------------------------------------


def make_predict(model: nn.Module, execution: str = "eager"):
    """An inference function `x (numpy) -> float32 logits (numpy)`: PyTorch's serving path is eager.

    Switches to eval mode on every call: the train step switches back to train mode, and a
    validation pass in train mode would use batch statistics and dropout (Keras' predict passes
    training=False every time, so this keeps the two frameworks' validation curves comparable).
    It runs where the model's parameters are (inputs copied there, logits back to the host), in the
    model's precision (bf16 autocast for a mixed model); `execution="compiled"` calls
    it through `torch.compile`, so each execution mode's latency is measured in that mode.
    """
    dtype = input_dtype(model)
    precision = precision_of(model)
    net = torch.compile(model) if execution == "compiled" else model

    def predict(x: np.ndarray) -> np.ndarray:
        model.eval()
        device = device_of(model)
        with torch.inference_mode(), autocast(precision, device):
            logits = net(to_device(x, device, dtype))
        return logits.float().cpu().numpy()  # .cpu() waits for the GPU: the caller's clock may stop

    return predict


def predict_logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Logits for a batch of inputs (float32 features/pixels, int64 token ids), in inference mode."""
    return make_predict(model)(x)


def save(model: nn.Module, directory: Path) -> Path:
    """Save the native state_dict, plus the architecture needed to rebuild it."""
    directory = Path(directory)
    # Host copies: a model trained on a GPU loads on a machine without one.
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, directory / MODEL_FILE)
    (directory / ARCH_FILE).write_text(json.dumps(model.crosstrain_arch, indent=2) + "\n")
    return directory / MODEL_FILE


def load(directory: Path) -> nn.Module:
    """Rebuild a model saved by `save` and load its weights."""
    from pydantic import TypeAdapter

    from crosstrain.config import ModelSpec as Spec

    directory = Path(directory)
    arch = json.loads((directory / ARCH_FILE).read_text())
    spec = TypeAdapter(Spec).validate_python(arch["spec"])
    model = build_model(spec, arch["meta"], arch.get("precision", "fp32"))
    model.load_state_dict(torch.load(directory / MODEL_FILE, weights_only=True, map_location="cpu"))
    model.eval()
    return model
