"""The Keras backend: crosstrain's `Backend` over Keras 3 on TensorFlow.

The work is done in `crosstrain.models.tf`, `crosstrain.training.tf`, `.tf_device`, `.tf_readback`
and `crosstrain.export.tf` (see `crosstrain.backends.modules`). Importing this imports
TensorFlow (and nothing of PyTorch).
"""

from __future__ import annotations

from crosstrain.backends.modules import ModuleBackend
from crosstrain.config import Framework
from crosstrain.export import tf as export
from crosstrain.models import tf as models
from crosstrain.training import tf as training
from crosstrain.training import tf_device as device
from crosstrain.training import tf_readback as readback


class KerasBackend(ModuleBackend):
    """Keras (TensorFlow), as `crosstrain.backends.base.Backend`."""

    framework = Framework.TENSORFLOW
    converter = "Keras Model.export(format='onnx')"
    packages = ("tensorflow", "keras")

    def __init__(self) -> None:
        super().__init__(models=models, training=training, device=device, readback=readback, export=export)
