"""The ingest step for image sources: decode, drop identical images, split once, write .npz + meta.json.

    crosstrain ingest --task mnist      # `crosstrain.data.ingest.ingest` dispatches image tasks here

Each source kind has one loader in `LOADERS` (one module each, in `crosstrain.data.image_sources`);
it returns the pool of training images, the source's own test split if it ships one, and the class
names. The rest is shared: duplicates are dropped, the split comes from `split.split_indices` (the
same rule tables and texts use), and every split is written as `<split>.npz` with `x` uint8
(N, H, W, C) and `y` int64 class indices. Scaling to float happens later, in
`dataset.scale_images`, with the train-split statistics stored in meta.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from crosstrain.config import (
    Cifar10Source,
    ImageFolderSource,
    MnistIdxSource,
    MnistSampleSource,
    Source,
    TaskConfig,
)
from crosstrain.data.image_sources.cifar10 import load_cifar10
from crosstrain.data.image_sources.folder import load_folder
from crosstrain.data.image_sources.idx import load_idx
from crosstrain.data.image_sources.loaded import Loaded
from crosstrain.data.image_sources.mnist_sample import load_mnist_sample
from crosstrain.data.split import limit, split_indices
from crosstrain.errors import SourceError
from crosstrain.io import atomic_dir
from crosstrain.names import META_FILE, SPLITS

STD_FLOOR = 1e-6
# Pixel statistics are summed over this many images at a time, so CIFAR-10 never exists as float64 at once.
STATS_CHUNK = 4096

LOADERS: dict[type, Callable[..., Loaded]] = {
    MnistSampleSource: load_mnist_sample,
    MnistIdxSource: load_idx,
    ImageFolderSource: load_folder,
    Cifar10Source: load_cifar10,
}

Arrays = tuple[np.ndarray, np.ndarray]  # images and labels of one split


# --- shared: duplicates, statistics, digest ------------------------------------------------------


def image_hashes(x: np.ndarray) -> list[str]:
    """sha256 hex of each image's pixel bytes: equal exactly when two images are identical.

    The label is left out on purpose: the same picture in train and test leaks whatever its label.
    """
    return [hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in x]


def drop_duplicates(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The pool without repeated images (first copy kept) and without any image of the test split.

    The test split itself is never touched: it is the source's benchmark and must stay comparable.
    """
    seen = set(image_hashes(x_test)) if x_test is not None else set()
    keep = []
    for position, hashed in enumerate(image_hashes(x)):
        if hashed not in seen:
            keep.append(position)
            seen.add(hashed)
    return x[keep], y[keep], len(x) - len(keep)


def pixel_stats(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (floored at STD_FLOOR) of the pixels scaled to [0, 1]."""
    channels = x.shape[-1]
    total, squares = np.zeros(channels), np.zeros(channels)
    for start in range(0, len(x), STATS_CHUNK):
        part = x[start : start + STATS_CHUNK].astype(np.float64) / 255.0
        total += part.sum(axis=(0, 1, 2))
        squares += np.square(part).sum(axis=(0, 1, 2))
    count = max(x.shape[0] * x.shape[1] * x.shape[2], 1)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, STD_FLOOR).tolist()


def digest(splits: dict[str, Arrays]) -> str:
    """sha256 over each split's name, pixel bytes and label bytes, in SPLITS order."""
    sha = hashlib.sha256()
    for name in SPLITS:
        x, y = splits[name]
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(x).tobytes())
        sha.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return sha.hexdigest()


# --- the step --------------------------------------------------------------------------------------


def ingest_images(task_name: str, task: TaskConfig, seed: int, out_dir: Path) -> dict:
    """Prepare an image task into `out_dir`: train/val/test .npz and meta.json; returns the meta.

    Args:
        task_name: The task's name; also names the download cache of URL sources.
        task: Its config; `task.source` is one of the image sources.
        seed: Draws the stratified split.
        out_dir: Replaced as a whole on success, left untouched on failure.

    Raises:
        SourceError: The source is missing, malformed, or its test split has a class train lacks.
    """
    loaded = LOADERS[type(task.source)](task.source, task_name)
    test = _own_test(loaded, task.source)
    x, y, dropped = drop_duplicates(loaded.x, loaded.y, loaded.x_test)
    if not len(x):
        raise SourceError(f"source {_where(task.source)} has no training images")
    labels = np.unique(y)
    classes = [_class_name(label, loaded.names, task.source) for label in labels]
    if test is not None:
        _check_test_labels(test[1], labels, loaded.names, task.source)
    index = np.searchsorted(labels, y).astype(np.int64)
    # Split on the class names, so split_indices' errors name the class the user knows.
    positions = split_indices(np.asarray(classes)[index], task.split, seed, has_test=test is not None)
    positions["train"] = limit(positions["train"], task.limit)
    splits = {name: (x[idx], index[idx]) for name, idx in positions.items()}
    if test is not None:
        splits["test"] = (test[0], np.searchsorted(labels, test[1]).astype(np.int64))
    splits = {name: (np.ascontiguousarray(splits[name][0]), splits[name][1]) for name in SPLITS}
    mean, std = pixel_stats(splits["train"][0])
    meta = {
        "task": task_name,
        "modality": "image",
        "source": task.source.model_dump(),
        "seed": seed,
        "limit": task.limit,
        "classes": classes,
        "image_shape": list(x.shape[1:]),
        "scale": task.image.scale,
        "pixel_mean": mean,
        "pixel_std": std,
        "rows": {name: len(splits[name][1]) for name in SPLITS},
        "duplicates_dropped": dropped,
        "test_from_source": test is not None,
        "digest": digest(splits),
    }
    with atomic_dir(out_dir) as tmp:
        for name, (images, targets) in splits.items():
            np.savez_compressed(tmp / f"{name}.npz", x=images, y=targets)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _own_test(loaded: Loaded, source: Source) -> Arrays | None:
    """The source's own test split, when it ships one, checked to hold images shaped like train's."""
    if loaded.x_test is None or loaded.y_test is None:
        return None
    if loaded.x_test.shape[1:] != loaded.x.shape[1:]:
        raise SourceError(
            f"source {_where(source)}: test images are {loaded.x_test.shape[1:]} but train images are "
            f"{loaded.x.shape[1:]} (height, width, channels)"
        )
    return loaded.x_test, loaded.y_test


def _check_test_labels(
    y_test: np.ndarray, labels: np.ndarray, names: list[str] | None, source: Source
) -> None:
    """A SourceError when the test split has a label no training image has."""
    unseen = np.setdiff1d(y_test, labels)
    if len(unseen):
        name = _class_name(unseen[0], names, source)
        raise SourceError(
            f"source {_where(source)}: the test split has label {int(unseen[0])} ({name!r}) that no "
            "training image has; a model cannot learn a class it never sees"
        )


def _where(source: Source) -> str:
    return repr(getattr(source, "path", source.kind))


def _class_name(label: int | np.integer, names: list[str] | None, source: Source) -> str:
    if names is None:
        return str(int(label))
    if not 0 <= label < len(names):
        raise SourceError(f"source {_where(source)}: label {int(label)} has no name ({len(names)} listed)")
    return names[int(label)]
