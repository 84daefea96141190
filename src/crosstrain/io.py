"""Atomic outputs: write to a temporary sibling, then rename, so a failure leaves nothing behind.

DVC caches whatever sits at an output path when a stage ends, and a half-written model is worse
than none: every step writes through these helpers.

A full disk is a DiskFullError naming the output: checked before writing when the size is known
(`check_free_space`; `atomic_write_text` always, `atomic_dir(size=...)` when given), and otherwise
recognised when the write fails with ENOSPC (also inside a library's own error, e.g. torch.save's).
Either way the temporary is removed and a previous output stays as it was.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crosstrain.errors import CorruptFileError, DiskFullError

_FULL = {errno.ENOSPC, errno.EDQUOT}
_MB = 1024 * 1024
_NEARLY_FULL = 64 * 1024  # free bytes below which a failed write is taken for a full disk


def _mb(size: int) -> str:
    return f"{size / _MB:.1f} MB"


def check_free_space(target: Path, size: int) -> None:
    """DiskFullError naming `target` unless its filesystem has `size` bytes free."""
    target = Path(target)
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if size > free:
        raise DiskFullError(f"not enough disk space for {target}: it needs {_mb(size)}, {_mb(free)} free")


def _is_disk_full(err: BaseException, directory: Path) -> bool:
    """Whether a failed write failed for want of space in `directory` (call before cleaning up).

    ENOSPC/EDQUOT anywhere in `err`'s chain, a library's message for it, or (libraries that only
    report a short write, like numpy's "N requested and M written") an error with the disk now full.
    """
    if isinstance(err, Exception):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(directory).free < _NEARLY_FULL:
                return True
    seen = set()
    link: BaseException | None = err
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError) and link.errno in _FULL:
            return True
        if "No space left on device" in str(link) or "Disk quota exceeded" in str(link):
            return True
        link = link.__cause__ or link.__context__
    return False


def _disk_full(target: Path, err: BaseException) -> DiskFullError:
    free = shutil.disk_usage(Path(target).parent).free
    return DiskFullError(f"disk full while writing {target} ({_mb(free)} free): nothing was written there")


@contextlib.contextmanager
def atomic_dir(target: Path, size: int | None = None) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `target` only if the block succeeds.

    `size`: the bytes the block will write, when known: checked against the free space first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if size is not None:
        check_free_space(target, size)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
    except BaseException as err:
        full = _is_disk_full(err, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise _disk_full(target, err) from err
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(target: Path, text: str) -> None:
    """Write `text` to `target` atomically (after checking there is room for it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    check_free_space(target, len(data))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException as err:
        full = _is_disk_full(err, target.parent)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if full:
            raise _disk_full(target, err) from err
        raise


def atomic_write_json(target: Path, data: Any) -> None:
    """Write `data` as pretty, key-sorted JSON to `target` atomically."""
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file crosstrain wrote; `CorruptFileError` (one line naming it) if it is not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise CorruptFileError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}); restore it with `dvc checkout` "
            "or rerun the step that writes it (`dvc repro`)") from None
    except UnicodeDecodeError:
        raise CorruptFileError(
            f"{path}: not a text file; restore it with `dvc checkout` or rerun the step that writes it "
            "(`dvc repro`)") from None
