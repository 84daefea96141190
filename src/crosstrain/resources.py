"""Resource use of a region of this process: its peak resident memory, and sizes on disk.

Linux keeps a high-water mark of the resident set (VmHWM in /proc/self/status). Writing "5" to
/proc/self/clear_refs resets it to the current RSS, so a region's peak is its own, not that of
whatever ran earlier in the process (data loading, a previous framework's model, the test before).
Where the reset is unavailable (not Linux, or /proc read-only), the peak falls back to
`resource.getrusage().ru_maxrss`, the whole process's lifetime peak: `reset` says which one it is.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
MB = 1024 * 1024


def _status_mb(field: str) -> float | None:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM) in MiB; None where there is no /proc."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float | None:
    """The current resident set size of this process in MiB (None off Linux)."""
    return _status_mb("VmRSS")


def _maxrss_mb() -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def reset_peak() -> bool:
    """Reset the kernel's resident high-water mark to the current RSS; False where that is not possible."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """The resident high-water mark in MiB: since the last `reset_peak()`, or of the whole process."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else _maxrss_mb()


@dataclass
class PeakMemory:
    """The resident memory of one region, in MiB; `peak_mb` and `increase_mb` are set when it ends.

    `reset` is True when the high-water mark was reset at entry, so `peak_mb` is this region's own
    peak; False means it is the process's lifetime peak, which may predate the region.
    """

    baseline_mb: float
    reset: bool
    peak_mb: float | None = None

    @property
    def increase_mb(self) -> float | None:
        """How far the region raised resident memory above its entry: peak - baseline (≥ 0)."""
        return None if self.peak_mb is None else max(0.0, self.peak_mb - self.baseline_mb)


@contextmanager
def track_peak_memory() -> Iterator[PeakMemory]:
    """Measure the peak resident memory of the `with` block.

        with track_peak_memory() as memory:
            train(...)
        memory.peak_mb, memory.increase_mb

    Resets the high-water mark at entry (one process-wide counter: nested or concurrent regions in
    other threads share it), records the RSS then as the baseline, and reads the mark at exit.
    """
    reset = reset_peak()
    current = rss_mb()
    memory = PeakMemory(baseline_mb=current if current is not None else _maxrss_mb(), reset=reset)
    try:
        yield memory
    finally:
        memory.peak_mb = max(peak_mb(), memory.baseline_mb)


def dir_size_mb(path: Path | str) -> float:
    """Bytes of every file under `path` (or of the file itself) in MiB; symlinks are not followed."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / MB
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / MB
