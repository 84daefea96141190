"""What every image loader returns: the pool of training images, the source's own test split, class names."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Loaded(NamedTuple):
    """What a loader returns: uint8 NHWC images with integer labels, plus the source's own test split.

    `names[label]` is a label's class name; with `names` None a label is named by its number.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    names: list[str] | None
