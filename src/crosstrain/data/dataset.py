"""Read prepared splits back as the numpy arrays both frameworks train on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crosstrain.errors import MissingInputError
from crosstrain.names import LABEL_COLUMN, META_FILE


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


def load_split(prepared: Path, name: str) -> Split:
    """One prepared split as float32 features and int64 labels."""
    path = Path(prepared) / f"{name}.parquet"
    if not path.exists():
        raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
    frame = pd.read_parquet(path)
    x = frame.drop(columns=[LABEL_COLUMN]).to_numpy(np.float32)
    return Split(x=np.ascontiguousarray(x), y=frame[LABEL_COLUMN].to_numpy(np.int64))
