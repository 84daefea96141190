"""The framework backends: `get(framework)` returns the one `Backend` for a framework name.

    backend = backends.get("pytorch")
    model = backend.build_model(spec, meta)

Importing lazily keeps a PyTorch run free of TensorFlow (and the reverse) and the CLI quick to start.
"""

from __future__ import annotations

import functools
import importlib

from crosstrain.backends.base import Backend, ModelFileError
from crosstrain.config import Framework

__all__ = ["Backend", "ModelFileError", "get"]

_CLASSES: dict[Framework, tuple[str, str]] = {
    Framework.TENSORFLOW: ("crosstrain.backends.tf", "KerasBackend"),
    Framework.PYTORCH: ("crosstrain.backends.torch", "TorchBackend"),
}


@functools.cache
def get(framework: Framework | str) -> Backend:
    """The backend of `framework` (chosen once per process: the same object on every call)."""
    module, name = _CLASSES[Framework(framework)]
    backend: Backend = getattr(importlib.import_module(module), name)()
    return backend
