"""CIFAR-10's python batches, from a directory (or its cifar-10-batches-py/) or a .tar.gz.

data_batch_1..5 is the pool, test_batch the test split, batches.meta (when present) the class names.
The batches are pickles, read through an unpickler that allows only the numpy pieces they hold.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.config import Cifar10Source
from crosstrain.data.image_sources.loaded import Loaded
from crosstrain.errors import SourceError

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

    def find_class(self, module: str, name: str) -> Any:
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
                    Path(member.name).name: _member_bytes(archive, member)
                    for member in archive.getmembers()
                    if member.isfile() and Path(member.name).name in wanted
                }, str(path)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise SourceError(f"{path}: not a readable tar archive of CIFAR-10 batches ({err})") from None
    raise SourceError(f"source.path {str(path)!r} not found (expected a CIFAR-10 directory or .tar.gz)")


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A regular file member's bytes (`extractfile` returns None only for other kinds of member)."""
    handle = archive.extractfile(member)
    if handle is None:
        raise tarfile.TarError(f"{member.name} is not a regular file")
    return handle.read()


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
