"""A full disk fails with a message naming the output, and never leaves a half-written one.

The honest version mounts a 1 MiB tmpfs (needs root; skipped otherwise); the up-front check with a
size no disk has runs everywhere.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from crosstrain.errors import DiskFullError
from crosstrain.io import atomic_dir, atomic_write_json, atomic_write_text

MiB = 1024 * 1024


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs at tmp_path/tiny, unmounted afterwards."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_file_too_big_for_the_disk_is_refused_up_front_naming_it(tiny_disk: Path) -> None:
    # given: an earlier output on a 1 MiB disk
    target = tiny_disk / "metrics.json"
    atomic_write_json(target, {"old": 1})
    # when: a 2 MiB text is to replace it
    with pytest.raises(DiskFullError, match=str(target)) as err:
        atomic_write_text(target, "x" * (2 * MiB))
    # then: one line naming the path, the old output intact, no temporary left
    assert "\n" not in str(err.value) and "free" in str(err.value)
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert _leftovers(tiny_disk) == []


def test_a_model_that_fills_the_disk_midway_leaves_no_half_written_model(tiny_disk: Path) -> None:
    # given: an earlier model on a 1 MiB disk
    target = tiny_disk / "model"
    with atomic_dir(target) as tmp:
        np.save(tmp / "weights.npy", np.zeros(16))
    before = (target / "weights.npy").read_bytes()
    # when: the new model (size not known up front) outgrows the disk while being written
    with pytest.raises(DiskFullError, match=str(target)):
        with atomic_dir(target) as tmp:
            np.save(tmp / "weights.npy", np.zeros(2 * MiB // 8))
    # then: the old model is untouched and no temporary directory is left
    assert (target / "weights.npy").read_bytes() == before
    assert _leftovers(tiny_disk) == []


def test_a_known_size_beyond_any_disk_is_refused_before_writing(tmp_path: Path) -> None:
    # given / when: an output declared larger than any disk
    target = tmp_path / "model"
    with pytest.raises(DiskFullError, match=str(target)):
        with atomic_dir(target, size=1 << 60):
            pytest.fail("the block must not run")
    # then: nothing was created
    assert list(tmp_path.iterdir()) == []


def test_torch_saving_a_model_onto_a_full_disk_is_a_disk_full_error(tiny_disk: Path) -> None:
    torch = pytest.importorskip("torch")
    # given / when: a 2 MiB state dict saved by torch (which reports a full disk its own way)
    target = tiny_disk / "torch-model"
    with pytest.raises(DiskFullError, match=str(target)):
        with atomic_dir(target) as tmp:
            torch.save({"w": torch.zeros(2 * MiB // 4)}, tmp / "model.pt")
    # then: no model and no temporary
    assert not target.exists() and _leftovers(tiny_disk) == []
