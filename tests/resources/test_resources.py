"""Peak resident memory of a region, and sizes on disk."""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain import resources

RESETTABLE = resources.reset_peak()


def test_allocation_inside_the_region_raises_the_peak():
    with resources.track_peak_memory() as memory:
        block = np.ones(200 * resources.MB // 8)  # 200 MiB of float64, touched so it is resident
        del block
    assert memory.peak_mb is not None
    assert 190 < memory.increase_mb < 260
    assert memory.peak_mb >= memory.baseline_mb + 190


@pytest.mark.skipif(not RESETTABLE, reason="/proc/self/clear_refs cannot reset the high-water mark here")
def test_reset_forgets_earlier_peaks():
    # Given a large peak earlier in the process
    block = np.ones(200 * resources.MB // 8)
    del block
    # When a region allocates nothing
    with resources.track_peak_memory() as memory:
        total = sum(range(1000))
    # Then its peak is its own, not the earlier one
    assert total and memory.reset
    assert memory.increase_mb < 20


def test_dir_size(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * resources.MB)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * (resources.MB // 2))
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert resources.dir_size_mb(tmp_path) == pytest.approx(1.5)
    assert resources.dir_size_mb(tmp_path / "a") == pytest.approx(1.0)
