"""The PyTorch side of every model: build, weights in and out, predict, save, load.

Mirrors `crosstrain.models.tf` name for name. (A module named `torch.py` is safe under absolute
imports; never run it as a script.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crosstrain.config import ModelSpec
from crosstrain.models.spec import dense_layers

MODEL_FILE = "model.pt"
ARCH_FILE = "arch.json"
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class Standardize(nn.Module):
    """Fixed (x - mean) / std with train-split statistics, like Keras' Normalization layer."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build_model(spec: ModelSpec, n_features: int, n_classes: int, mean, std) -> nn.Sequential:
    """An nn.Sequential: fixed standardisation, then the dense stack, ending in logits."""
    layers: list[nn.Module] = [Standardize(mean, std)]
    for layer in dense_layers(spec, n_features, n_classes):
        layers.append(nn.Linear(layer.inputs, layer.outputs))
        if layer.activation:
            layers.append(ACTIVATIONS[layer.activation]())
    model = nn.Sequential(*layers)
    # Remember how to rebuild it: the native state_dict holds weights, not architecture.
    model.crosstrain_arch = {
        "spec": spec.model_dump(),
        "n_features": n_features,
        "n_classes": n_classes,
        "mean": list(map(float, mean)),
        "std": list(map(float, std)),
    }
    return model


def _dense(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def set_weights(model: nn.Module, weights: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Load neutral (kernel (in, out), bias) pairs; torch stores weight as (out, in)."""
    with torch.no_grad():
        for layer, (kernel, bias) in zip(_dense(model), weights, strict=True):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
            layer.bias.copy_(torch.from_numpy(bias))


def get_weights(model: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """The dense weights as neutral (kernel (in, out), bias) pairs."""
    return [(layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()) for layer in _dense(model)]


def param_count(model: nn.Module) -> int:
    """Trainable parameters as PyTorch counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_predict(model: nn.Module):
    """An inference function `x (numpy) -> logits (numpy)`: PyTorch's serving path is eager."""
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return predict


def predict_logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Logits for a batch of features, in inference mode."""
    return make_predict(model)(np.ascontiguousarray(x, dtype=np.float32))


def save(model: nn.Module, directory: Path) -> Path:
    """Save the native state_dict, plus the architecture needed to rebuild it."""
    directory = Path(directory)
    torch.save(model.state_dict(), directory / MODEL_FILE)
    (directory / ARCH_FILE).write_text(json.dumps(model.crosstrain_arch, indent=2) + "\n")
    return directory / MODEL_FILE


def load(directory: Path) -> nn.Module:
    """Rebuild a model saved by `save` and load its weights."""
    from pydantic import TypeAdapter

    from crosstrain.config import ModelSpec as Spec

    directory = Path(directory)
    arch = json.loads((directory / ARCH_FILE).read_text())
    spec = TypeAdapter(Spec).validate_python(arch["spec"])
    model = build_model(spec, arch["n_features"], arch["n_classes"], arch["mean"], arch["std"])
    model.load_state_dict(torch.load(directory / MODEL_FILE, weights_only=True))
    model.eval()
    return model


def log_model(model: nn.Module, example: np.ndarray, pip_requirements: list[str]):
    """Log to the active MLflow run with signature and input example; returns the ModelInfo."""
    import mlflow.pytorch
    from mlflow.models import infer_signature

    signature = infer_signature(example, predict_logits(model, example))
    return mlflow.pytorch.log_model(
        model, name="model", signature=signature, input_example=example, pip_requirements=pip_requirements
    )
