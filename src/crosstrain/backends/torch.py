"""The PyTorch backend: crosstrain's `Backend` over PyTorch.

The work is done in `crosstrain.models.torch`, `crosstrain.training.torch`, `.torch_device`, `.torch_readback`
and `crosstrain.export.torch` (see `crosstrain.backends.modules`). Importing this imports
PyTorch (and nothing of TensorFlow).
"""

from __future__ import annotations

from crosstrain.backends.modules import ModuleBackend
from crosstrain.config import Framework
from crosstrain.export import torch as export
from crosstrain.models import torch as models
from crosstrain.training import torch as training
from crosstrain.training import torch_device as device
from crosstrain.training import torch_readback as readback


class TorchBackend(ModuleBackend):
    """PyTorch (PyTorch), as `crosstrain.backends.base.Backend`."""

    framework = Framework.PYTORCH
    converter = "torch.onnx.export(dynamo=True)"
    packages = ("torch",)

    def __init__(self) -> None:
        super().__init__(models=models, training=training, device=device, readback=readback, export=export)
