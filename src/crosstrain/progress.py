"""Progress bars for long work, on stderr, quiet when stderr is not a terminal (DVC, CI, kfp)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from crosstrain import names


@contextlib.contextmanager
def epoch_progress(label: str, total: int) -> Iterator[Callable[[dict[str, float]], None]]:
    """Yield `advance(stats)`; shows a rich bar on a terminal and one line per epoch decile otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(label, total=total, status="")

            def advance_bar(stats: dict[str, float]) -> None:
                bar.update(task, advance=1, status=_status(stats))

            yield advance_bar
        return
    done = 0

    def advance(stats: dict[str, float]) -> None:
        nonlocal done
        done += 1
        if done == total or done % max(1, total // 10) == 0:
            print(f"{label}: epoch {done}/{total} {_status(stats)}", file=sys.stderr, flush=True)

    yield advance


def _status(stats: dict[str, float]) -> str:
    return f"loss {stats[names.TRAIN_LOSS]:.4f}  val_acc {stats[names.VAL_ACCURACY]:.3f}"


@contextlib.contextmanager
def step_progress(label: str, total: int) -> Iterator[Callable[[str], None]]:
    """Yield `advance(status)` over `total` steps: a rich bar on a terminal, one line at the end otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"))
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(label, total=total, status="")
            yield lambda status: bar.update(task, advance=1, status=status)
        return
    done = 0

    def advance(status: str) -> None:
        nonlocal done
        done += 1
        if done == total:
            print(f"{label}: {status}", file=sys.stderr, flush=True)

    yield advance
