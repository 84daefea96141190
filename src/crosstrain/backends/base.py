"""What crosstrain needs from a deep-learning framework: one `Backend`, implemented twice.

`crosstrain.backends.tf.KerasBackend` and `crosstrain.backends.torch.TorchBackend` have the same
method names and arguments; everything outside them (training job, loop, evaluation, export, speed
measurement) is written against this protocol, so mypy sees one interface and the twins cannot
drift apart silently. Models, train steps and distributed contexts are each framework's own objects
(a `keras.Model` or an `nn.Module`, ...): to the neutral code they are opaque values handed back to
the backend that made them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from crosstrain.config import DistributedConfig, Framework, ModelSpec, TrainConfig
from crosstrain.distributed.env import World
from crosstrain.errors import CorruptFileError
from crosstrain.training.loop import TrainStep

Model = Any  # keras.Model or torch.nn.Module: only its own backend looks inside
Context = Any  # the backend's distributed context (`Distributed` in training/tf.py, training/torch.py)
Weights = Mapping[str, np.ndarray]  # the neutral layout (crosstrain.models.spec)
Predict = Callable[[np.ndarray], np.ndarray]


class ModelFileError(CorruptFileError):
    """A saved model or checkpoint that cannot be read back (truncated, corrupt, or another format)."""


class Backend(Protocol):
    """One framework, seen through the operations crosstrain performs on it."""

    framework: Framework
    converter: str  # how `export_onnx` converts, for messages

    # --- the runtime: threads, seeds, determinism, device, workers
    def configure(self, threads: int, seed: int, deterministic: bool = False, device: str = "auto") -> None:
        """Pin both thread pools, seed every generator, switch op determinism on or off, TF32 off, and
        put the runtime on `device` (`train.device`; crosstrain.devices resolves "auto" and "cuda")."""

    def set_deterministic(self, on: bool) -> None:
        """The framework's op determinism alone (bench and tests switch it around a measurement)."""

    def setup(self, world: World, cfg: DistributedConfig, device: str = "auto") -> Context:
        """Join the other workers (nothing in a world of 1), on `device` (NCCL on GPUs)."""

    def cleanup(self, ctx: Context) -> None:
        """Wait for every worker, then leave."""

    def scope(self, ctx: Context) -> contextlib.AbstractContextManager:
        """Where the model and optimiser must be built."""

    # --- the device
    def visible_gpus(self) -> list[str]:
        """The CUDA devices this framework sees, by name, in index order (crosstrain.devices asks)."""

    def device_builds(self) -> dict[str, Any]:
        """{"cuda", "cudnn"}: the versions this framework was built with (None for a CPU build)."""

    def synchronize(self, device: str) -> None:
        """Block until the work queued on `device` has run: every timer calls it before its clock stops."""

    def reset_device_memory(self, device: str) -> None:
        """Start a region of peak GPU memory on the resolved `device` (nothing on the CPU)."""

    def peak_device_memory_mb(self, device: str) -> float | None:
        """Peak GPU memory this framework allocated since `reset_device_memory`; None on the CPU."""

    # --- the model
    def build_model(self, spec: ModelSpec, meta: dict, precision: str = "fp32") -> Model:
        """The architecture of `spec` for the data described by `meta`."""

    def precision_of(self, model: Model) -> str:
        """"fp32" or "mixed", read from the built model."""

    def place(self, model: Model, device: str) -> Model:
        """The model on the resolved `device` (PyTorch moves it; TensorFlow's is the configured one)."""

    def set_weights(self, model: Model, weights: Weights) -> None:
        """Load weights given in the neutral layout."""

    def get_weights(self, model: Model) -> dict[str, np.ndarray]:
        """The model's weights in the neutral layout."""

    def param_count(self, model: Model) -> int:
        """Trainable parameters."""

    def make_predict(self, model: Model, execution: str = "eager") -> Predict:
        """`predict(x) -> logits` in inference mode, compiled as `execution` says."""

    def predict_logits(self, model: Model, x: np.ndarray) -> np.ndarray:
        """Logits for one batch, in inference mode."""

    # --- training
    def make_train_step(self, model: Model, cfg: TrainConfig, example: np.ndarray,
                        ctx: Context | None = None) -> TrainStep:
        """The optimiser update `crosstrain.training.loop.fit` drives (`example`: one input row)."""

    def fairness_readback(self, step: TrainStep, model: Model) -> dict[str, Any]:
        """What the run actually uses, read from the live optimiser, loss, layers and runtime."""

    def get_state(self, step: TrainStep, model: Model) -> dict[str, np.ndarray]:
        """Optimiser and generator state as arrays, for a checkpoint."""

    def set_state(self, step: TrainStep, model: Model, state: Mapping[str, np.ndarray]) -> None:
        """Put back what `get_state` returned."""

    # --- files
    def save(self, model: Model, directory: Path) -> Path:
        """Save the native model into `directory`; returns the model file."""

    def load(self, directory: Path) -> Model:
        """The model `save` wrote; `ModelFileError` (one line: which file, what to do) if unreadable."""

    def export_onnx(self, model: Model, path: Path, example: np.ndarray, opset: int) -> str:
        """Write the model as ONNX to `path`; returns the converter used."""

    def pip_requirements(self) -> list[str]:
        """What an MLflow model of this framework needs to load, pinned to the versions in use."""


def pins(packages: list[str]) -> list[str]:
    """`package==version` for numpy and `packages` as installed (tensorflow may be tensorflow-cpu)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ["numpy", *packages]:
        try:
            found.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            if package != "tensorflow":
                raise
            found.append(f"tensorflow=={version('tensorflow-cpu')}")  # the Linux x86-64 wheel's name
    return found


def unreadable(path: Path, framework: Framework, err: BaseException) -> ModelFileError:
    """The one-line error for a model file the framework cannot read."""
    reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    return ModelFileError(
        f"{path}: not a readable {framework} model ({reason}); it may be truncated or from another "
        "version: restore it with `dvc checkout` or retrain it with `dvc repro`")
