"""Read prepared splits back as the numpy arrays both frameworks train on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crosstrain.errors import MissingInputError
from crosstrain.names import LABEL_COLUMN, META_FILE, SPLITS


@dataclass(frozen=True)
class Split:
    """One split as arrays: features float32 (n, d), labels int64 (n,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def load_meta(prepared: Path) -> dict:
    """meta.json of a prepared task, or a MissingInputError saying which step to run."""
    path = Path(prepared) / META_FILE
    if not path.exists():
        raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
    return json.loads(path.read_text())


def load_frames(prepared: Path) -> dict[str, pd.DataFrame]:
    """Every split's Parquet file, or a MissingInputError naming the one that is absent."""
    frames = {}
    for split in SPLITS:
        path = Path(prepared) / f"{split}.parquet"
        if not path.exists():
            raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
        frames[split] = pd.read_parquet(path)
    return frames


def load_split(prepared: Path, name: str) -> Split:
    """One prepared split as the arrays both frameworks train on.

    Tables: float32 features from `<split>.parquet`. Images: `<split>.npz` holds uint8 NHWC pixels,
    scaled here, once and framework-neutrally, to float32 as meta.json says. Texts: `<split>.npz`
    holds int64 token ids (already padded/truncated). Labels are int64 class indices throughout.
    """
    npz = Path(prepared) / f"{name}.npz"
    if npz.exists():
        with np.load(npz) as arrays:
            x, y = arrays["x"], arrays["y"].astype(np.int64)
        meta = load_meta(prepared)
        if meta.get("modality") == "image":
            x = scale_images(x, meta)
        return Split(x=np.ascontiguousarray(x), y=y)
    path = Path(prepared) / f"{name}.parquet"
    if not path.exists():
        raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
    frame = pd.read_parquet(path)
    x = frame.drop(columns=[LABEL_COLUMN]).to_numpy(np.float32)
    return Split(x=np.ascontiguousarray(x), y=frame[LABEL_COLUMN].to_numpy(np.int64))


def scale_images(pixels: np.ndarray, meta: dict) -> np.ndarray:
    """uint8 NHWC → float32: to [0, 1], or standardised per channel with train-split statistics."""
    x = pixels.astype(np.float32) / 255.0
    if meta.get("scale") == "standardize":
        mean = np.asarray(meta["pixel_mean"], dtype=np.float32)
        std = np.asarray(meta["pixel_std"], dtype=np.float32)
        x = (x - mean) / std
    return x
