"""`crosstrain export`: the first seed's trained model to ONNX, parity-checked and timed in ONNX Runtime."""

from __future__ import annotations

import typer

from crosstrain import names, tracking
from crosstrain.cli.options import FrameworkOpt, ParamsOpt, SetOpt, TaskOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.layout import Layout

layout = Layout()


def export(
    task: TaskOpt, framework: FrameworkOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None
) -> None:
    """Export the first seed's model to ONNX, check it against the native model, time ONNX Runtime."""
    from crosstrain.export.step import export as run

    cfg = settings(params, set_)
    cfg.task(task)
    seed = cfg.seeds[0]
    model_dir = layout.model(task, framework) / names.seed_dir(seed)
    result = run(task, cfg, framework, model_dir, layout.prepared(task), layout.onnx(task, framework),
                 tracker=tracking.tracker(cfg.mlflow))
    if not result["exported"]:
        typer.echo(f"export {task}/{framework}: not exported ({result['reason']})")
        return
    native = result["native"][names.LATENCY_P50]
    onnx = result[names.ONNX_PREFIX + names.LATENCY_P50]
    typer.echo(
        f"export {task}/{framework} seed {seed}: max |ONNX - native| {result[names.ONNX_MAX_ABS_DIFF]:.2g}, "
        f"p50 latency ONNX Runtime {onnx:.3f} ms vs native {native:.3f} ms ({native / onnx:.2f}x), "
        f"{result[names.ONNX_SIZE]:.3f} MiB via {result['exporter']} -> {layout.onnx(task, framework)}"
    )
