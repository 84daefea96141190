"""TensorFlow and the device: which GPUs it sees, its CUDA builds, showing it one GPU, syncing, memory.

Devices are spelled as `crosstrain.devices` resolves them ("cpu", "cuda:N"), for both frameworks.
Mirrors `crosstrain.training.torch_device`.
"""

from __future__ import annotations

from typing import Any

# First: crosstrain.models.tf sets KERAS_BACKEND (and TensorFlow's log level) before TensorFlow loads.
import crosstrain.models.tf  # noqa: F401

# isort: split
import tensorflow as tf

from crosstrain import devices
from crosstrain.errors import ConfigError


def place(device: str) -> None:
    """Make `device` ("cpu" or "cuda:N") the only GPU TensorFlow sees (no GPU for "cpu")."""
    gpus = tf.config.list_physical_devices("GPU")
    gpu = devices.index(device)
    wanted = [] if gpu is None else [gpus[gpu]]
    if tf.config.get_visible_devices("GPU") == wanted:
        return
    try:
        tf.config.set_visible_devices(wanted, "GPU")
        for physical in wanted:
            tf.config.experimental.set_memory_growth(physical, True)
    except RuntimeError as err:
        raise ConfigError(f"TensorFlow cannot move to {device}: its runtime started on another device "
                          f"earlier in this process ({err})") from None


def visible_gpus() -> list[str]:
    """The CUDA devices TensorFlow sees, by name, in index order (none for a CPU build)."""
    details = tf.config.experimental.get_device_details
    return [str(details(d).get("device_name", d.name)) for d in tf.config.list_physical_devices("GPU")]


def device_builds() -> dict[str, Any]:
    """The CUDA and cuDNN versions this TensorFlow was built with (None for a CPU build)."""
    info = tf.sysconfig.get_build_info()
    cudnn = info.get("cudnn_version")
    return {"cuda": info.get("cuda_version"), "cudnn": str(cudnn) if cudnn else None}


def _logical(device: str) -> str | None:
    """TensorFlow's name of the run's GPU ("GPU:0": `place` shows it that one), None for the CPU."""
    return None if devices.index(device) is None else "GPU:0"


def synchronize(device: str) -> None:
    """Block until TensorFlow's pending ops on a GPU have run (its ops are asynchronous there)."""
    if devices.index(device) is not None:
        tf.test.experimental.sync_devices()


def device_name(device: str) -> str:
    """"cpu", or the name of the GPU `device` ("cuda:N") is."""
    gpu = devices.index(device)
    if gpu is None:
        return devices.CPU
    physical = tf.config.list_physical_devices("GPU")[gpu]
    return str(tf.config.experimental.get_device_details(physical).get("device_name", physical.name))


def reset_device_memory(device: str) -> None:
    """Start a region of peak GPU memory on `device` (nothing on the CPU, whose peak is the RSS)."""
    logical = _logical(device)
    if logical is not None:
        tf.config.experimental.reset_memory_stats(logical)


def peak_device_memory_mb(device: str) -> float | None:
    """Peak GPU memory TensorFlow allocated on `device` since `reset_device_memory` (MiB); None on the CPU."""
    logical = _logical(device)
    if logical is None:
        return None
    return float(tf.config.experimental.get_memory_info(logical)["peak"]) / 2**20
