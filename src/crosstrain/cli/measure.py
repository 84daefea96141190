"""`crosstrain measure`: every execution mode of one task and framework, timed the same way.

    crosstrain measure --task iris --framework pytorch
    crosstrain measure --task images --framework tensorflow --set measure.modes='[eager-fp32, compiled-mixed]'
"""

from __future__ import annotations

import typer

from crosstrain import names, tracking
from crosstrain.cli.options import FrameworkOpt, ParamsOpt, SetOpt, TaskOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.layout import Layout


def measure(
    task: TaskOpt, framework: FrameworkOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None
) -> None:
    """Time a short training and inference in each mode of `measure.modes` (eager/compiled, fp32/mixed)."""
    from crosstrain.perf.modes import measure_modes

    cfg = settings(params, set_)
    cfg.task(task)
    layout = Layout()
    out = layout.modes(task, framework)
    result = measure_modes(task, cfg, framework, layout.prepared(task), out,
                           tracker=tracking.tracker(cfg.mlflow))
    for entry in result["modes"]:
        if entry[names.STEP_TIME] is None:
            typer.echo(f"measure {task}/{framework} {entry['mode']}: not supported ({entry['reason']})")
            continue
        note = f" [{entry['reason']}]" if entry["reason"] else ""
        typer.echo(
            f"measure {task}/{framework} {entry['mode']}: compile {entry[names.COMPILE_TIME]:.2f} s, "
            f"step {entry[names.STEP_TIME]:.2f} ms, {entry[names.TRAIN_THROUGHPUT]:.0f} train ex/s, "
            f"p50 {entry[names.LATENCY_P50]:.3f} ms, {entry[names.THROUGHPUT]:.0f} inference ex/s{note}"
        )
    typer.echo(f"measure {task}/{framework}: {len(result['modes'])} modes -> {out}")
