"""MNIST-format IDX files (MNIST, Fashion-MNIST, ...), from a directory or a URL prefix.

The t10k files stay the test split. A URL prefix is fetched once into data/raw/<task>/ (see
`crosstrain.data.raw`) and read from there while its checksum holds.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from crosstrain.config import MnistIdxSource
from crosstrain.data.image_sources.loaded import Loaded
from crosstrain.data.raw import RAW_DIR, write_bytes
from crosstrain.errors import SourceError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (count)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_idx(source: MnistIdxSource, task_name: str) -> Loaded:
    """MNIST, Fashion-MNIST or any IDX set: the t10k files stay the test split."""
    arrays, used = {}, []
    for split, (images_name, labels_name) in IDX_FILES.items():
        images_file, images_raw = _fetch(source, task_name, images_name)
        labels_file, labels_raw = _fetch(source, task_name, labels_name)
        used += [Path(images_file).name, Path(labels_file).name]
        images = parse_idx(images_raw, images_file, IMAGES_MAGIC)
        labels = parse_idx(labels_raw, labels_file, LABELS_MAGIC)
        if len(images) != len(labels):
            raise SourceError(
                f"{images_file} has {len(images)} images but {labels_file} has {len(labels)} labels; "
                "they must pair up one to one"
            )
        arrays[split] = (images[..., None], labels.astype(np.int64))
    unknown = sorted(set(source.sha256 or {}) - set(used))
    if unknown:
        raise SourceError(f"source.sha256 names {unknown[0]!r}, which is not a file read; these were: {used}")
    return Loaded(*arrays["train"], *arrays["test"], None)


def parse_idx(raw: bytes, where: str, magic: int) -> np.ndarray:
    """An IDX file's array: a big-endian magic number and dimensions, then unsigned bytes."""
    kind = "image" if magic == IMAGES_MAGIC else "label"
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        shown = "no magic number (file shorter than 4 bytes)" if found is None else f"0x{found:08x}"
        raise SourceError(f"{where}: not an IDX {kind} file: expected magic 0x{magic:08x}, found {shown}")
    header = 4 + 4 * (magic & 0xFF)
    if len(raw) < header:
        raise SourceError(f"{where}: IDX header is cut short ({len(raw)} bytes, expected {header})")
    dims = [int(d) for d in np.frombuffer(raw, ">u4", count=magic & 0xFF, offset=4)]
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise SourceError(
            f"{where}: header says {' x '.join(map(str, dims))} = {expected} bytes of data, "
            f"found {len(raw) - header}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _fetch(source: MnistIdxSource, task_name: str, name: str) -> tuple[str, bytes]:
    """(where it was read, decompressed bytes) of `name` or `name.gz`, checked against source.sha256."""
    candidate, where, raw = _locate(source, task_name, name)
    if candidate.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise SourceError(f"{where}: not a complete gzip file ({err})") from None
    return where, raw


def _locate(source: MnistIdxSource, task_name: str, name: str) -> tuple[str, str, bytes]:
    """(file name, where it was read, its bytes as stored) of `name` or `name.gz`."""
    if "://" not in source.path:
        return _locate_local(source, name)
    candidates = (name, f"{name}.gz")
    for candidate in candidates:
        cached = RAW_DIR / task_name / candidate
        if cached.is_file():
            raw = cached.read_bytes()
            if _sha256_ok(source, candidate, raw):
                return candidate, str(cached), raw
    for candidate in candidates:
        url = f"{source.path.rstrip('/')}/{candidate}"
        downloaded = _download(url)
        if downloaded is not None:
            # Checked before caching, so a bad download is never mistaken for a good cached file.
            _check_sha256(source, candidate, downloaded, url)
            # Written atomically, so an interrupted download is never mistaken for a cached file.
            write_bytes(RAW_DIR / task_name / candidate, downloaded)
            return candidate, url, downloaded
    raise SourceError(f"{source.path}: neither {name} nor {name}.gz could be downloaded (not found)")


def _locate_local(source: MnistIdxSource, name: str) -> tuple[str, str, bytes]:
    """`_locate` for a directory: `name` or `name.gz` in it, read in place."""
    folder = Path(source.path)
    if not folder.is_dir():
        raise SourceError(f"source.path {source.path!r} is not a directory (expected IDX files in it)")
    for candidate in (name, f"{name}.gz"):
        if (folder / candidate).is_file():
            raw = (folder / candidate).read_bytes()
            _check_sha256(source, candidate, raw, str(folder / candidate))
            return candidate, str(folder / candidate), raw
    raise SourceError(f"{folder}: neither {name} nor {name}.gz found")


def _download(url: str) -> bytes | None:
    """The bytes at `url`, or None when it does not exist."""
    import fsspec

    try:
        with fsspec.open(url, "rb") as handle:
            return handle.read()
    except FileNotFoundError as err:
        # fsspec's HTTP filesystem reports any failure as FileNotFoundError; its cause says which.
        if err.__cause__ is not None and not isinstance(err.__cause__, FileNotFoundError):
            raise SourceError(f"{url} could not be reached: {err.__cause__}") from None
        return None
    except (OSError, ValueError, ImportError) as err:
        raise SourceError(f"{url} could not be read: {err}") from None


def _sha256_ok(source: MnistIdxSource, name: str, raw: bytes) -> bool:
    expected = (source.sha256 or {}).get(name)
    return expected is None or hashlib.sha256(raw).hexdigest() == expected.lower()


def _check_sha256(source: MnistIdxSource, name: str, raw: bytes, where: str) -> None:
    # The checksum is of the file as stored (compressed, for .gz), like the ones datasets publish.
    if not _sha256_ok(source, name, raw):
        raise SourceError(
            f"{where}: sha256 is {hashlib.sha256(raw).hexdigest()}, expected {(source.sha256 or {})[name]} "
            f"(source.sha256[{name!r}])"
        )
