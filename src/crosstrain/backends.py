"""Framework → implementation modules, resolved by type rather than by if-chains.

Each framework has a `crosstrain.models.<mod>` and a `crosstrain.training.<mod>` with the same
public names. Importing lazily keeps a PyTorch run free of TensorFlow and the CLI quick to start.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from crosstrain.config import Framework

MODULE_NAMES: dict[Framework, str] = {Framework.TENSORFLOW: "tf", Framework.PYTORCH: "torch"}


def models(framework: Framework) -> ModuleType:
    """`crosstrain.models.tf` or `crosstrain.models.torch`."""
    return importlib.import_module(f"crosstrain.models.{MODULE_NAMES[Framework(framework)]}")


def training(framework: Framework) -> ModuleType:
    """`crosstrain.training.tf` or `crosstrain.training.torch`."""
    return importlib.import_module(f"crosstrain.training.{MODULE_NAMES[Framework(framework)]}")


def pip_requirements(framework: Framework) -> list[str]:
    """What an MLflow model of this framework needs to load, pinned to the versions in use."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {Framework.TENSORFLOW: ["tensorflow", "keras"], Framework.PYTORCH: ["torch"]}[Framework(framework)]
    pins = []
    for package in ["numpy", *packages]:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            if package == "tensorflow":  # installed as tensorflow-cpu on Linux x86-64
                pins.append(f"tensorflow=={version('tensorflow-cpu')}")
            else:
                raise
    return pins
