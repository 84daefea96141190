"""PyTorch's train step: a plain eager update, as in pytorch/examples' mnist/main.py.

Distributed, it is the same step plus a few lines (pytorch/examples' multigpu_torchrun.py): `setup`
joins torchrun's process group, the model is wrapped in DistributedDataParallel, and `cleanup` leaves.

    crosstrain train --task iris --framework pytorch --workers 2
    # which runs: python -m torch.distributed.run --standalone --nproc-per-node 2 \
    #                 -m crosstrain.cli.main train ...

Mirrors `crosstrain.training.tf`. (A module named `torch.py` is safe under absolute imports.)
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from crosstrain import devices
from crosstrain.config import DistributedConfig, TrainConfig
from crosstrain.distributed.env import World
from crosstrain.errors import ConfigError
from crosstrain.models.torch import autocast, precision_of, to_device
from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON
from crosstrain.training.precision import check_precision
from crosstrain.training.torch_device import synchronize


def configure(threads: int, seed: int, deterministic: bool = False, device: str = "auto") -> None:
    """Pin thread pools (the counts TensorFlow gets), seed Python, numpy and PyTorch (every GPU's
    generator too), set deterministic algorithms (`train.deterministic`), turn TF32 off and make
    `device` (resolved by `crosstrain.devices`) the current CUDA device when it is a GPU.

    PyTorch allows TF32 for convolutions (not matmuls) by default, TensorFlow for both: both are set
    off, so "fp32" means IEEE float32 in both (crosstrain.training.tf.configure).
    """
    gpu = devices.index(devices.for_worker(device))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # already fixed for this process (it can be set once, before any parallel work)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CUDA generators as well
    set_deterministic(deterministic)
    if gpu is not None:
        torch.cuda.set_device(gpu)


def set_deterministic(on: bool) -> None:
    """torch.use_deterministic_algorithms on or off for this process (cuDNN and cuBLAS with it on a GPU)."""
    if on:
        # cuBLAS needs a fixed workspace to be deterministic; read when CUDA initialises.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = False if on else torch.backends.cudnn.benchmark


@dataclass(frozen=True)
class Distributed:
    """This worker's place in the run, the collective backend it uses ("none" in a world of 1) and
    the device it trains on (resolved: "cpu" or "cuda:N")."""

    world: World = field(default_factory=World)
    backend: str = "none"
    device: str = devices.CPU


def setup(world: World, cfg: DistributedConfig, device: str = "auto") -> Distributed:
    """Join torchrun's process group (env://: MASTER_ADDR/PORT, RANK, WORLD_SIZE); nothing in a world of 1.

    `auto` is gloo on the CPU and NCCL on GPUs (NCCL needs CUDA tensors; worker i on cuda:i).
    A collective waiting longer than `cfg.timeout_s` (a dead peer) raises instead of hanging.
    """
    device = devices.for_worker(device, world.local_rank)
    if not world.distributed:
        return Distributed(world, device=device)
    backend = ("nccl" if devices.index(device) is not None else "gloo") if cfg.backend == "auto" \
        else cfg.backend
    if backend not in ("gloo", "nccl"):
        raise ConfigError(
            f"train.distributed.backend {cfg.backend!r} is TensorFlow's; PyTorch uses gloo or nccl")
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=cfg.timeout_s))
    return Distributed(world, backend, device)


def cleanup(ctx: Distributed) -> None:
    """Wait for every rank (rank 0 saves last), then leave the process group."""
    if dist.is_initialized():
        with contextlib.suppress(RuntimeError):  # a peer already gone: nothing left to wait for
            dist.barrier()
        dist.destroy_process_group()


def scope(ctx: Distributed) -> contextlib.AbstractContextManager:
    """Where to build the model: anywhere (TensorFlow needs its strategy's scope)."""
    return contextlib.nullcontext()


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser with every hyperparameter set explicitly (defaults differ by framework)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate, betas=ADAM_BETAS, eps=ADAM_EPSILON)
    return torch.optim.SGD(params, lr=cfg.learning_rate, momentum=cfg.momentum)


class TrainStep:
    """A `step(x, y, weight) -> loss`: one optimiser update on a mini-batch or a rank's shard.

    Eager by default. `cfg.execution == "compiled"` wraps the model in `torch.compile` (inductor, C++
    on the CPU), as nanoGPT and the PyTorch tutorials do: forward and backward become compiled graphs,
    the optimiser step stays eager, and the model's `state_dict` keeps its names. `cfg.precision ==
    "mixed"` runs forward and loss under bf16 autocast, with fp32 weights and optimiser state.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, example: np.ndarray,
                 ctx: Distributed | None = None) -> None:
        check_precision(precision_of(model), cfg)
        ctx = ctx or Distributed()
        self.world = ctx.world
        # The run's device: the context's when it has joined a world, else the budget's (resolved).
        self.device = torch.device(ctx.device if ctx.world.distributed else devices.for_worker(cfg.device))
        self.model = model.to(self.device)  # before the optimiser: it holds the parameters it was given
        # Batch-norm statistics are averaged after each step (below), not copied from rank 0 at each forward.
        distributed = self.world.distributed
        gpu = [self.device.index or 0] if self.device.type == "cuda" else None
        self.net: Any = DistributedDataParallel(model, device_ids=gpu, forward_sync_buffers=False) \
            if distributed else model
        self.compiled = cfg.execution == "compiled"
        if self.compiled:
            self.net = torch.compile(self.net)  # after DDP, as DDP's docs recommend
        self.precision = cfg.precision
        self.optimizer = make_optimizer(model, cfg)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing).to(self.device)
        self.clip_norm = cfg.clip_norm
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.bn_stats = [buf for m in norms for buf in (m.running_mean, m.running_var) if buf is not None]

    def __call__(self, x: np.ndarray, y: np.ndarray, weight: float = 1.0) -> torch.Tensor:
        """One update on this rank's shard; the shard's mean loss times `weight` (detached)."""
        # predict() leaves the model in eval mode; switching back walks every module (~10 µs), so only
        # when needed (always with DDP, whose wrapper has its own flag).
        if self.world.distributed or not self.model.training:
            self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        # The host-to-device copy is part of the step (pinned, non-blocking on a GPU), as in TensorFlow's.
        inputs, labels = to_device(x, self.device), to_device(y, self.device)
        if self.precision == "fp32":
            loss = self.loss_fn(self.net(inputs), labels)
        else:
            with autocast(self.precision, self.device):
                logits = self.net(inputs)
            loss = self.loss_fn(logits.float(), labels)
        # Multiplying by 1 is exact, so a single process skips the two multiplications (and their
        # backward nodes): on a small model they are a measurable share of the step.
        if weight != 1.0:
            loss = loss * weight
        # DDP averages gradients over ranks; times the world size, that is the sum of the weighted
        # shard gradients: the gradient of the global batch's mean loss, as in a single process.
        (loss * self.world.size if self.world.distributed else loss).backward()
        if self.clip_norm:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        if self.world.distributed and self.bn_stats:
            self._average_bn_stats()
        return loss.detach()

    def _average_bn_stats(self) -> None:
        """Batch-norm moving statistics averaged over ranks, as TensorFlow's mirrored variables are."""
        flat = torch.cat([buf.reshape(-1) for buf in self.bn_stats])
        dist.all_reduce(flat)
        flat /= self.world.size
        offset = 0
        for buf in self.bn_stats:
            buf.copy_(flat[offset : offset + buf.numel()].view_as(buf))
            offset += buf.numel()

    def expect_batch_sizes(self, sizes: Collection[int]) -> None:
        """Nothing to prepare: eager PyTorch has no per-shape trace (torch.compile recompiles lazily)."""

    def synchronize(self) -> None:
        """Wait for the work queued on the GPU (kernels run asynchronously); nothing on the CPU."""
        synchronize(str(self.device))

    def set_learning_rate(self, lr: float) -> None:
        """Set every parameter group's learning rate."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def learning_rate(self) -> float:
        """The learning rate the optimiser holds now (its first parameter group's)."""
        return float(self.optimizer.param_groups[0]["lr"])

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        """`values` summed over all ranks."""
        if not self.world.distributed:
            return values
        # NCCL reduces CUDA tensors only; gloo takes host ones.
        on = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        tensor = torch.from_numpy(np.array(values, dtype=np.float64)).to(on)
        dist.all_reduce(tensor)
        return tensor.cpu().numpy()


def make_train_step(model: nn.Module, cfg: TrainConfig, example: np.ndarray,
                    ctx: Distributed | None = None) -> TrainStep:
    """The train step for `model` (`example` is unused: PyTorch needs no signature)."""
    return TrainStep(model, cfg, example, ctx)


# --- checkpoint state (crosstrain.training.checkpoint) ---------------------------------------------


def get_state(step: TrainStep, model: nn.Module) -> dict[str, np.ndarray]:
    """The optimiser's state (Adam's moments and step count, SGD's momentum) and torch's RNG, as arrays.

    Keys are "optimizer/<param index>/<name>" (the index in `model.parameters()`, as in
    `optimizer.state_dict()`) and "rng/torch" (the CPU generator, which dropout draws from).
    The hyperparameters are not saved: they come from the params, and the learning rate is set each
    epoch. (`model` is unused: the model's weights are saved apart, in the neutral layout.)
    """
    state = {
        f"optimizer/{index}/{name}": value.detach().cpu().numpy().copy()
        for index, slots in step.optimizer.state_dict()["state"].items()
        for name, value in slots.items()
    }
    state["rng/torch"] = torch.get_rng_state().numpy().copy()
    if step.device.type == "cuda":  # dropout on a GPU draws from that GPU's generator
        state["rng/cuda"] = torch.cuda.get_rng_state(step.device).numpy().copy()
    return state


def set_state(step: TrainStep, model: nn.Module, state: dict[str, np.ndarray]) -> None:
    """Put back what `get_state` returned (the step must train the same model with the same optimiser)."""
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        kind, *rest = key.split("/")
        if kind == "optimizer":
            slots.setdefault(int(rest[0]), {})[rest[1]] = torch.from_numpy(np.array(value))
    saved = step.optimizer.state_dict()
    step.optimizer.load_state_dict({"state": slots, "param_groups": saved["param_groups"]})
    torch.set_rng_state(torch.from_numpy(np.array(state["rng/torch"], dtype=np.uint8)))
    if "rng/cuda" in state and step.device.type == "cuda":
        torch.cuda.set_rng_state(torch.from_numpy(np.array(state["rng/cuda"], dtype=np.uint8)), step.device)
