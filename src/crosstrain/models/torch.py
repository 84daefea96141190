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
from crosstrain.models.spec import Weights, dense_layers

MODEL_FILE = "model.pt"
ARCH_FILE = "arch.json"


class Standardize(nn.Module):
    """Fixed (x - mean) / std with train-split statistics, like Keras' Normalization layer."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Fixed standardisation, then the dense stack, ending in logits; layers named as in Keras."""

    def __init__(self, spec: ModelSpec, meta: dict) -> None:
        super().__init__()
        self.standardize = Standardize(meta["feature_mean"], meta["feature_std"])
        self.dense = nn.ModuleDict()
        self.activations = []
        for i, layer in enumerate(dense_layers(spec, len(meta["features"]), len(meta["classes"]))):
            self.dense[f"dense_{i}"] = nn.Linear(layer.inputs, layer.outputs)
            self.activations.append(layer.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardize(x)
        for linear, activation in zip(self.dense.values(), self.activations, strict=True):
            x = linear(x)
            if activation:
                x = ACTIVATIONS[activation](x)
        return x


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def build_model(spec: ModelSpec, meta: dict) -> nn.Module:
    """The PyTorch model of `spec` for the prepared data `meta` describes, ending in logits."""
    model = MLP(spec, meta)
    # Remember how to rebuild it: the native state_dict holds weights, not architecture.
    model.crosstrain_arch = {"spec": spec.model_dump(), "meta": meta}
    return model


def set_weights(model: nn.Module, weights: Weights) -> None:
    """Load neutral weights: Keras-layout dense kernels (in, out) become torch's (out, in)."""
    with torch.no_grad():
        for name, linear in model.dense.items():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights[f"{name}/kernel"].T)))
            linear.bias.copy_(torch.from_numpy(weights[f"{name}/bias"]))


def get_weights(model: nn.Module) -> Weights:
    """The trainable weights as neutral "<layer>/<param>" arrays in the Keras layout."""
    weights: Weights = {}
    for name, linear in model.dense.items():
        weights[f"{name}/kernel"] = linear.weight.detach().numpy().T.copy()
        weights[f"{name}/bias"] = linear.bias.detach().numpy().copy()
    return weights


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
    model = build_model(spec, arch["meta"])
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
