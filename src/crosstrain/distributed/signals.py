"""SIGINT and SIGTERM, for a training process and for the launcher of its workers.

A training process (one worker, or a single process) stops cooperatively: `stop_on_signals` hands
the loop a `stop()` it asks before each optimiser step, so training ends at a step boundary with
the last epoch's checkpoint intact. A launcher stops its workers: `stop_workers_on_signals` turns
SIGTERM into `Stopped`, which unwinds `crosstrain.distributed.launch.run` (it stops the workers on
its way out) instead of ending the launcher at once and leaving the workers, each in a session of
its own, running on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

Stop = Callable[[], "int | None"]


class Stopped(BaseException):
    """SIGTERM reached the launcher (a BaseException, like the KeyboardInterrupt SIGINT raises)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """Yield `stop() -> signum | None`: SIGINT or SIGTERM received since entering.

    After the first signal the previous handlers are back, so a second Ctrl-C interrupts at once.
    Outside the main thread (where Python allows no handlers) `stop()` always says None.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield lambda: received[0] if received else None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_workers_on_signals() -> Iterator[None]:
    """While workers run, SIGTERM raises `Stopped` (SIGINT raises KeyboardInterrupt already)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
