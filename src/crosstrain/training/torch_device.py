"""PyTorch and the device: which GPUs it sees, its CUDA builds, syncing, peak memory.

Devices are spelled as `crosstrain.devices` resolves them ("cpu", "cuda:N"), for both frameworks.
Mirrors `crosstrain.training.tf_device`.
"""

from __future__ import annotations

from typing import Any

import torch

from crosstrain import devices


def visible_gpus() -> list[str]:
    """The CUDA devices PyTorch sees, by name, in index order (none for a CPU build)."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def device_builds() -> dict[str, Any]:
    """The CUDA and cuDNN versions this PyTorch was built with (None for a CPU build)."""
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"cuda": torch.version.cuda, "cudnn": str(cudnn) if cudnn is not None else None}


def synchronize(device: str) -> None:
    """Block until the kernels queued on a GPU `device` have run (nothing to wait for on the CPU)."""
    gpu = devices.index(device)
    if gpu is not None:
        torch.cuda.synchronize(gpu)


def device_name(device: str) -> str:
    """"cpu", or the name of the GPU `device` ("cuda:N") is."""
    gpu = devices.index(device)
    return devices.CPU if gpu is None else torch.cuda.get_device_name(gpu)


def reset_device_memory(device: str) -> None:
    """Start a region of peak GPU memory on `device` (nothing on the CPU, whose peak is the RSS)."""
    gpu = devices.index(device)
    if gpu is not None:
        torch.cuda.reset_peak_memory_stats(gpu)


def peak_device_memory_mb(device: str) -> float | None:
    """Peak GPU memory allocated on `device` since `reset_device_memory`, in MiB; None on the CPU."""
    gpu = devices.index(device)
    if gpu is None:
        return None
    return torch.cuda.max_memory_allocated(gpu) / 2**20
