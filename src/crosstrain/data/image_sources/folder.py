"""A folder per class of PNG/JPEG files: classes are the sorted folder names; no test split of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crosstrain.config import ImageFolderSource
from crosstrain.data.image_sources.loaded import Loaded
from crosstrain.errors import SourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_folder(source: ImageFolderSource, task_name: str) -> Loaded:
    """`path/<class>/*.png|jpg|jpeg`: classes are the sorted folder names; there is no own test split."""
    root = Path(source.path)
    if not root.is_dir():
        raise SourceError(f"source.path {source.path!r} is not a directory (expected a folder per class)")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise SourceError(
            f"{root} has {len(folders)} class folder(s); an image folder needs a subfolder per class, "
            "at least two"
        )
    images, labels = [], []
    first_of_size: dict[tuple[int, ...], Path] = {}
    for label, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"class folder {folder} has no {'/'.join(IMAGE_SUFFIXES)} files")
        for file in files:
            image = _decode(file, source)
            first_of_size.setdefault(image.shape[:2], file)
            images.append(image)
            labels.append(label)
    if len(first_of_size) > 1:
        (size_a, file_a), (size_b, file_b) = list(first_of_size.items())[:2]
        raise SourceError(
            f"images differ in size: {file_a} is {size_a[0]}x{size_a[1]} and {file_b} is "
            f"{size_b[0]}x{size_b[1]} (height x width); set source.image_size to [height, width] to resize"
        )
    x = np.stack(images)
    return Loaded(
        x if x.ndim == 4 else x[..., None],
        np.asarray(labels, dtype=np.int64),
        None,
        None,
        [p.name for p in folders],
    )


def _decode(file: Path, source: ImageFolderSource) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(file) as opened:
            image = opened.convert("L" if source.color == "grayscale" else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise SourceError(f"{file}: cannot be decoded as an image ({err})") from None
    if source.image_size is not None:
        height, width = source.image_size
        # Pillow sizes are (width, height); the config says [height, width] like the arrays.
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)
