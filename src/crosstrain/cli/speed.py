"""`crosstrain speed`: both frameworks timed alternately (ABBA), a fresh process per measurement.

    crosstrain speed --task iris
    crosstrain speed --task images --set speed.rounds=6
"""

from __future__ import annotations

import time

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, TaskOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.layout import Layout


def speed(task: TaskOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Time a short training and batch-1 latency of each framework `speed.rounds` times, fresh processes."""
    from crosstrain.perf.speed import speed as run

    cfg = settings(params, set_)
    cfg.task(task)
    layout = Layout()
    out = layout.speed(task)
    start = time.perf_counter()
    result = run(task, cfg, layout.prepared(task), out)
    order = ", ".join(result["order"])
    seconds = time.perf_counter() - start
    count = len(result["measurements"])
    typer.echo(f"speed {task}: {count} measurements in {seconds:.0f} s ({order}) -> {out}")
