"""The training budget both frameworks get: epochs, optimiser, schedule, execution mode, workers.

`train` in params.yaml is a TrainConfig; `tasks.<name>.train` is a TrainOverride on top of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from crosstrain.config.base import Strict


class DistributedConfig(Strict):
    """Data-parallel training on this machine: N local workers share each global batch.

    `crosstrain train --workers N` overrides `workers`. PyTorch runs DistributedDataParallel under
    torchrun, TensorFlow MultiWorkerMirroredStrategy with TF_CONFIG (crosstrain.distributed.launch).
    The batch size and learning rate stay global, so an N-worker run is comparable with a 1-worker one.
    """

    workers: PositiveInt = Field(default=1, description="Worker processes; 1 = single-process training.")
    backend: Literal["auto", "gloo", "nccl", "ring"] = Field(
        default="auto",
        description="Collectives: auto = gloo (PyTorch) or ring (TensorFlow) on CPU, nccl on GPU.",
    )
    timeout_s: PositiveInt = Field(
        default=120, description="A collective waiting longer than this fails the run.")


Execution = Literal["eager", "compiled"]
DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?)$"
"""`train.device`: auto, cpu, cuda (worker i on cuda:i) or cuda:N (crosstrain.devices resolves it)."""
Precision = Literal["fp32", "mixed"]
EXECUTIONS: tuple[str, ...] = ("eager", "compiled")
PRECISIONS: tuple[str, ...] = ("fp32", "mixed")


def mode_name(execution: str, precision: str) -> str:
    """One execution mode as a name: `eager-fp32`, `compiled-mixed`, ..."""
    return f"{execution}-{precision}"


MODES: tuple[str, ...] = tuple(mode_name(e, p) for e in EXECUTIONS for p in PRECISIONS)


def parse_mode(mode: str) -> tuple[str, str]:
    """`compiled-fp32` -> ("compiled", "fp32")."""
    execution, _, precision = mode.partition("-")
    return execution, precision


class TrainConfig(Strict):
    """The training budget and optimiser, identical for both frameworks."""

    # The defaults are what params.yaml's `train` section sets (tests/test_config.py holds them equal).

    epochs: PositiveInt = 60
    batch_size: PositiveInt = 16
    learning_rate: PositiveFloat = 0.01
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(default=0.0, ge=0.0, lt=1.0, description="SGD momentum; ignored by adam.")
    threads: PositiveInt = Field(default=1, description="Intra-op threads, pinned the same in both.")
    schedule: Literal["constant", "cosine"] = Field(
        default="constant",
        description="Learning rate per epoch: constant, or cosine decay to 0 after warm-up.",
    )
    warmup_epochs: int = Field(default=0, ge=0, description="Epochs of linear warm-up before the schedule.")
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    clip_norm: PositiveFloat | None = Field(
        default=None, description="Clip gradients to this global L2 norm."
    )
    early_stopping_patience: PositiveInt | None = Field(
        default=None,
        description="Stop after this many epochs without val_accuracy improving; null = never.",
    )
    execution: Execution = Field(
        default="eager",
        description="eager: each framework's default (PyTorch eager, TensorFlow tf.function without XLA); "
        "compiled: torch.compile and tf.function(jit_compile=True) (XLA).",
    )
    precision: Precision = Field(
        default="fp32",
        description="fp32 (TF32 off in both), or mixed: bf16 compute with fp32 weights (torch.autocast "
        "on the run's device, Keras mixed_bfloat16), on the CPU and on a GPU alike.",
    )
    warmup_steps: int = Field(
        default=5, ge=0,
        description="Optimiser steps at the start not counted in throughput (trace, compile, caches).",
    )
    deterministic: bool = Field(
        default=True,
        description="Same inputs, same numbers: seed Python, numpy, TensorFlow and PyTorch, turn on "
        "TensorFlow's op determinism and torch.use_deterministic_algorithms "
        "(threads and batch order pinned).",
    )
    device: str = Field(
        default="auto", pattern=DEVICE_PATTERN,
        description="auto: the GPU when both frameworks see one, else the CPU; cpu; cuda (worker i on "
        "cuda:i); cuda:N. Never one framework on a GPU and the other on the CPU (crosstrain.devices).",
    )
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)

    @property
    def mode(self) -> str:
        """The execution mode trained in, as a name: `eager-fp32`, `compiled-mixed`, ..."""
        return mode_name(self.execution, self.precision)


class TrainOverride(Strict):
    """Any subset of `train`, applied to one task (e.g. fewer epochs for images)."""

    epochs: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    learning_rate: PositiveFloat | None = None
    optimizer: Literal["adam", "sgd"] | None = None
    momentum: float | None = Field(default=None, ge=0.0, lt=1.0)
    schedule: Literal["constant", "cosine"] | None = None
    warmup_epochs: int | None = Field(default=None, ge=0)
    label_smoothing: float | None = Field(default=None, ge=0.0, lt=1.0)
    clip_norm: PositiveFloat | None = None
    early_stopping_patience: PositiveInt | None = None
    execution: Execution | None = None
    precision: Precision | None = None
    warmup_steps: int | None = Field(default=None, ge=0)
    deterministic: bool | None = None
    device: str | None = Field(default=None, pattern=DEVICE_PATTERN)
