"""The Keras backend: crosstrain's `Backend` protocol over Keras 3 on TensorFlow.

The work is done in `crosstrain.models.tf`, `crosstrain.training.tf` and `crosstrain.export.tf`;
this class is the one door the framework-neutral code goes through. Importing it imports
TensorFlow (and nothing of PyTorch).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.backends.base import Context, Model, Predict, Weights, pins, unreadable
from crosstrain.config import DistributedConfig, Framework, ModelSpec, TrainConfig
from crosstrain.distributed.env import World
from crosstrain.export import tf as export
from crosstrain.models import tf as models
from crosstrain.training import tf as training
from crosstrain.training.loop import TrainStep


class KerasBackend:
    """Keras (TensorFlow), as `crosstrain.backends.base.Backend`."""

    framework = Framework.TENSORFLOW
    converter = "Keras Model.export(format='onnx')"

    def configure(self, threads: int, seed: int, deterministic: bool = False) -> None:
        """See `Backend.configure`."""
        training.configure(threads, seed, deterministic)

    def set_deterministic(self, on: bool) -> None:
        """See `Backend.set_deterministic`."""
        training.set_deterministic(on)

    def setup(self, world: World, cfg: DistributedConfig) -> Context:
        """See `Backend.setup`."""
        return training.setup(world, cfg)

    def cleanup(self, ctx: Context) -> None:
        """See `Backend.cleanup`."""
        training.cleanup(ctx)

    def scope(self, ctx: Context) -> contextlib.AbstractContextManager:
        """See `Backend.scope`."""
        return training.scope(ctx)

    def build_model(self, spec: ModelSpec, meta: dict, precision: str = "fp32") -> Model:
        """See `Backend.build_model`."""
        return models.build_model(spec, meta, precision=precision)

    def precision_of(self, model: Model) -> str:
        """See `Backend.precision_of`."""
        return models.precision_of(model)

    def set_weights(self, model: Model, weights: Weights) -> None:
        """See `Backend.set_weights`."""
        models.set_weights(model, dict(weights))

    def get_weights(self, model: Model) -> dict[str, np.ndarray]:
        """See `Backend.get_weights`."""
        return models.get_weights(model)

    def param_count(self, model: Model) -> int:
        """See `Backend.param_count`."""
        return models.param_count(model)

    def make_predict(self, model: Model, execution: str = "eager") -> Predict:
        """See `Backend.make_predict`."""
        return models.make_predict(model, execution=execution)

    def predict_logits(self, model: Model, x: np.ndarray) -> np.ndarray:
        """See `Backend.predict_logits`."""
        return models.predict_logits(model, x)

    def make_train_step(self, model: Model, cfg: TrainConfig, example: np.ndarray,
                        ctx: Context | None = None) -> TrainStep:
        """See `Backend.make_train_step`."""
        return training.make_train_step(model, cfg, example, ctx)

    def fairness_readback(self, step: TrainStep, model: Model) -> dict[str, Any]:
        """See `Backend.fairness_readback`."""
        return training.fairness_readback(step, model)  # type: ignore[arg-type]  # its own step

    def get_state(self, step: TrainStep, model: Model) -> dict[str, np.ndarray]:
        """See `Backend.get_state`."""
        return training.get_state(step, model)  # type: ignore[arg-type]

    def set_state(self, step: TrainStep, model: Model, state: Mapping[str, np.ndarray]) -> None:
        """See `Backend.set_state`."""
        training.set_state(step, model, dict(state))  # type: ignore[arg-type]

    def save(self, model: Model, directory: Path) -> Path:
        """See `Backend.save`."""
        return models.save(model, directory)

    def load(self, directory: Path) -> Model:
        """See `Backend.load`: a file TensorFlow cannot read is one line naming it."""
        try:
            return models.load(directory)
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - TensorFlow raises many kinds for a damaged file
            raise unreadable(Path(directory) / models.MODEL_FILE, self.framework, err) from err

    def log_model(self, model: Model, example: np.ndarray) -> Any:
        """See `Backend.log_model`."""
        return models.log_model(model, example, self.pip_requirements())

    def export_onnx(self, model: Model, path: Path, example: np.ndarray, opset: int) -> str:
        """See `Backend.export_onnx`."""
        return export.export_onnx(model, path, example, opset)

    def pip_requirements(self) -> list[str]:
        """See `Backend.pip_requirements`."""
        return pins(["tensorflow", "keras"])
