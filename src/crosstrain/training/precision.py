"""The one precision check both train steps make: a model is trained in the precision it was built in.

Keras keeps precision in its layers' dtype policies and PyTorch in an autocast flag on the model
(see `precision_of` in crosstrain.models.tf / .torch); each framework reads its own, this compares.
"""

from __future__ import annotations

from crosstrain.config import TrainConfig
from crosstrain.errors import ConfigError


def check_precision(built: str, cfg: TrainConfig) -> None:
    """A ConfigError unless `built` (the model's precision) is `cfg.precision`."""
    if built != cfg.precision:
        raise ConfigError(
            f"train.precision is {cfg.precision} but the model was built {built}: "
            f"build it with build_model(spec, meta, precision={cfg.precision!r})")
