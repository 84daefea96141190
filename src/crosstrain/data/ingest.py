"""The ingest step: load a source, split it once (stratified, from the seed), write Parquet + meta.json.

Both frameworks later read these exact files, so the split cannot differ between them. With
`raw_dir` (the CLI passes data/raw/<task>, a DVC output of the ingest stage) what ingest read is kept
too (`crosstrain.data.raw.snapshot_raw`), so `dvc push` moves the raw inputs with the prepared data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from crosstrain.config import TaskConfig
from crosstrain.data.raw import snapshot_raw
from crosstrain.data.sources import load_source
from crosstrain.data.split import limit, split_indices
from crosstrain.errors import SourceError
from crosstrain.io import atomic_dir
from crosstrain.names import LABEL_COLUMN, META_FILE, SPLITS


def split_frame(frame: pd.DataFrame, task: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    """Stratified train/val/test split drawn from `seed`; `limit` caps the training split."""
    positions = split_indices(frame[LABEL_COLUMN], task.split, seed)
    positions["train"] = limit(positions["train"], task.limit)
    return {name: frame.iloc[idx] for name, idx in positions.items()}


def digest(splits: dict[str, pd.DataFrame]) -> str:
    """sha256 of the prepared data's values and column names, independent of the Parquet writer."""
    sha = hashlib.sha256()
    for name in SPLITS:
        frame = splits[name]
        sha.update(name.encode())
        sha.update(json.dumps(list(map(str, frame.columns))).encode())
        sha.update(np.ascontiguousarray(frame.drop(columns=[LABEL_COLUMN]).to_numpy("float64")).tobytes())
        sha.update(np.ascontiguousarray(frame[LABEL_COLUMN].to_numpy("int64")).tobytes())
    return sha.hexdigest()


def ingest(task_name: str, task: TaskConfig, seed: int, out_dir: Path, raw_dir: Path | None = None) -> dict:
    """Prepare one task's data into `out_dir`; returns the meta written to meta.json.

    Dispatches on the source's modality: tables here, images in `data/images.py`, texts in `data/text.py`.
    A source problem is reported with the params field it came from. With `raw_dir`, what was read is
    kept there as well (see `snapshot_raw`).
    """
    try:
        if task.modality == "image":
            from crosstrain.data.images import ingest_images

            meta = ingest_images(task_name, task, seed, out_dir)
        elif task.modality == "text":
            from crosstrain.data.text import ingest_text

            meta = ingest_text(task_name, task, seed, out_dir)
        else:
            return ingest_table(task_name, task, seed, out_dir, raw_dir)
        if raw_dir is not None:
            snapshot_raw(task, raw_dir)
        return meta
    except SourceError as err:
        raise SourceError(f"tasks.{task_name}.source: {err}") from None


def ingest_table(
    task_name: str, task: TaskConfig, seed: int, out_dir: Path, raw_dir: Path | None = None
) -> dict:
    """Prepare a tabular task: numeric features and a label, as Parquet."""
    raw = load_source(task.source)
    # Identical rows would leak between splits (iris itself has one such pair: rows 101 and 142),
    # and Great Expectations rejects any test row also in train, so keep the first copy only.
    frame = raw.drop_duplicates(ignore_index=True)
    classes = sorted(frame[LABEL_COLUMN].unique().tolist())
    # Split on the class names, so split_frame's errors name the class; then store class indices.
    index = {c: i for i, c in enumerate(classes)}
    splits = {}
    for name, part in split_frame(frame, task, seed).items():
        part = part.reset_index(drop=True)
        part[LABEL_COLUMN] = part[LABEL_COLUMN].map(index).astype("int64")
        splits[name] = part
    features = [c for c in frame.columns if c != LABEL_COLUMN]
    train_x = splits["train"][features].to_numpy("float64")
    meta = {
        "task": task_name,
        "modality": "table",
        "source": task.source.model_dump(),
        "seed": seed,
        "limit": task.limit,
        "classes": classes,
        "features": features,
        "rows": {name: len(part) for name, part in splits.items()},
        "duplicates_dropped": len(raw) - len(frame),
        # Standardisation statistics from the train split only; both models embed them as a fixed layer.
        "feature_mean": np.nanmean(train_x, axis=0).tolist(),
        "feature_std": np.where(np.nanstd(train_x, axis=0) > 0, np.nanstd(train_x, axis=0), 1.0).tolist(),
        "digest": digest(splits),
    }
    with atomic_dir(out_dir) as tmp:
        for name, part in splits.items():
            part.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    if raw_dir is not None:
        snapshot_raw(task, raw_dir, table=raw)
    return meta
