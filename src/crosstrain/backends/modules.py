"""A `Backend` made of one framework's implementation modules: models, training, device, read-back, export.

Both backends are this class over their own modules (`crosstrain.models.tf`, `crosstrain.training.tf`,
`crosstrain.training.tf_device`, `crosstrain.training.tf_readback`, `crosstrain.export.tf`, or the
`torch` ones), which have the same function names by design: so the twins cannot drift apart here,
and a function one of them lacks fails on the first call of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from crosstrain.backends.base import Backend, Context, Model, Predict, Weights, pins, unreadable
from crosstrain.config import DistributedConfig, Framework, ModelSpec, TrainConfig
from crosstrain.distributed.env import World
from crosstrain.training.loop import TrainStep


class ModuleBackend:
    """`crosstrain.backends.base.Backend` over a framework's implementation modules."""

    framework: Framework
    converter: str  # how `export_onnx` converts, for messages
    packages: tuple[str, ...]  # what its MLflow models need besides numpy

    def __init__(self, *, models: ModuleType, training: ModuleType, device: ModuleType, readback: ModuleType,
                 export: ModuleType) -> None:
        self.models, self.training, self.export = models, training, export
        self.device, self.readback = device, readback

    def configure(self, threads: int, seed: int, deterministic: bool = False, device: str = "auto") -> None:
        """See `Backend.configure`."""
        self.training.configure(threads, seed, deterministic, device)

    def set_deterministic(self, on: bool) -> None:
        """See `Backend.set_deterministic`."""
        self.training.set_deterministic(on)

    def setup(self, world: World, cfg: DistributedConfig, device: str = "auto") -> Context:
        """See `Backend.setup`."""
        return self.training.setup(world, cfg, device)

    def cleanup(self, ctx: Context) -> None:
        """See `Backend.cleanup`."""
        self.training.cleanup(ctx)

    def scope(self, ctx: Context) -> contextlib.AbstractContextManager:
        """See `Backend.scope`."""
        return self.training.scope(ctx)

    def visible_gpus(self) -> list[str]:
        """See `Backend.visible_gpus`."""
        return list(self.device.visible_gpus())

    def device_builds(self) -> dict[str, Any]:
        """See `Backend.device_builds`."""
        return dict(self.device.device_builds())

    def synchronize(self, device: str) -> None:
        """See `Backend.synchronize`."""
        self.device.synchronize(device)

    def reset_device_memory(self, device: str) -> None:
        """See `Backend.reset_device_memory`."""
        self.device.reset_device_memory(device)

    def peak_device_memory_mb(self, device: str) -> float | None:
        """See `Backend.peak_device_memory_mb`."""
        peak = self.device.peak_device_memory_mb(device)
        return None if peak is None else float(peak)

    def build_model(self, spec: ModelSpec, meta: dict, precision: str = "fp32") -> Model:
        """See `Backend.build_model`."""
        return self.models.build_model(spec, meta, precision=precision)

    def precision_of(self, model: Model) -> str:
        """See `Backend.precision_of`."""
        return str(self.models.precision_of(model))

    def place(self, model: Model, device: str) -> Model:
        """See `Backend.place`."""
        return self.models.place(model, device)

    def set_weights(self, model: Model, weights: Weights) -> None:
        """See `Backend.set_weights`."""
        self.models.set_weights(model, dict(weights))

    def get_weights(self, model: Model) -> dict[str, np.ndarray]:
        """See `Backend.get_weights`."""
        return dict(self.models.get_weights(model))

    def param_count(self, model: Model) -> int:
        """See `Backend.param_count`."""
        return int(self.models.param_count(model))

    def make_predict(self, model: Model, execution: str = "eager") -> Predict:
        """See `Backend.make_predict`."""
        return self.models.make_predict(model, execution=execution)

    def predict_logits(self, model: Model, x: np.ndarray) -> np.ndarray:
        """See `Backend.predict_logits`."""
        return np.asarray(self.models.predict_logits(model, x))

    def make_train_step(self, model: Model, cfg: TrainConfig, example: np.ndarray,
                        ctx: Context | None = None) -> TrainStep:
        """See `Backend.make_train_step`."""
        return self.training.make_train_step(model, cfg, example, ctx)

    def fairness_readback(self, step: TrainStep, model: Model) -> dict[str, Any]:
        """See `Backend.fairness_readback`."""
        return dict(self.readback.fairness_readback(step, model))

    def get_state(self, step: TrainStep, model: Model) -> dict[str, np.ndarray]:
        """See `Backend.get_state`."""
        return dict(self.training.get_state(step, model))

    def set_state(self, step: TrainStep, model: Model, state: Mapping[str, np.ndarray]) -> None:
        """See `Backend.set_state`."""
        self.training.set_state(step, model, dict(state))

    def save(self, model: Model, directory: Path) -> Path:
        """See `Backend.save`."""
        return Path(self.models.save(model, directory))

    def load(self, directory: Path) -> Model:
        """See `Backend.load`: a file the framework cannot read is one line naming it."""
        try:
            return self.models.load(directory)
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - each framework raises many kinds for a damaged file
            raise unreadable(Path(directory) / self.models.MODEL_FILE, self.framework, err) from err

    def export_onnx(self, model: Model, path: Path, example: np.ndarray, opset: int) -> str:
        """See `Backend.export_onnx`."""
        return str(self.export.export_onnx(model, path, example, opset))

    def pip_requirements(self) -> list[str]:
        """See `Backend.pip_requirements`."""
        return pins(list(self.packages))


def _conforms(backend: ModuleBackend) -> Backend:
    """Never called: makes mypy check that `ModuleBackend` has every method of the protocol."""
    return backend
