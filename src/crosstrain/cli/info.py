"""Commands that read rather than run: the results summary and the params schema."""

from __future__ import annotations

import json
import sys

import typer

from crosstrain import names
from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS, Settings
from crosstrain.io import read_json
from crosstrain.layout import Layout


def schema() -> None:
    """Print the JSON schema of params.yaml (every field, its type, default and meaning)."""
    typer.echo(json.dumps(Settings.model_json_schema(), indent=2))


def summary(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Print the results table of the last local run and where to look next."""
    from rich.console import Console
    from rich.table import Table

    cfg = settings(params, set_)
    layout = Layout()
    table = Table(title=f"crosstrain results (test split, mean of {len(cfg.seeds)} seeds)")
    for column in ("task", "framework", "test accuracy", "macro-F1", "train time", "p50 latency", "registry"):
        table.add_column(column, justify="left" if column in ("task", "framework", "registry") else "right")
    for task, task_cfg in cfg.tasks.items():
        if not task_cfg.enabled:
            continue
        registry = read_json(layout.registry(task)) if layout.registry(task).exists() else {}
        champion = (registry.get("champion") or {}).get("framework")
        for fw in cfg.frameworks:
            path = layout.metrics(task, fw)
            if not path.exists():
                table.add_row(task, str(fw), "-", "-", "-", "-", "not run")
                continue
            mtr = read_json(path).get("mean", {})
            version = registry.get("versions", {}).get(str(fw), {}).get("version")
            crowned = champion == fw and (registry.get("champion") or {}).get("version") == version
            badge = (f"v{version}" if version else "") + (" champion" if crowned else "")
            table.add_row(task, str(fw), f"{mtr[names.TEST_ACCURACY]:.3f}", f"{mtr[names.TEST_MACRO_F1]:.3f}",
                          f"{mtr[names.TRAIN_TIME]:.2f} s", f"{mtr[names.LATENCY_P50]:.3f} ms", badge.strip())
        # The classical reference: one deterministic fit (`crosstrain reference`), the bar to clear.
        ref = read_json(layout.reference(task)) if layout.reference(task).exists() else None
        if ref is None:
            table.add_row(task, names.REFERENCE, "-", "-", "-", "-", "not run")
        else:
            table.add_row(task, names.REFERENCE, f"{ref[names.TEST_ACCURACY]:.3f}",
                          f"{ref[names.TEST_MACRO_F1]:.3f}", f"{ref[names.TRAIN_TIME]:.2f} s",
                          f"{ref[names.LATENCY_P50]:.3f} ms", "")
    # Wide enough for the table even when stdout is a pipe (make, CI), where rich assumes 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 110)
    console.print(table)
    console.print(
        "Report: [bold]reports/comparison.html[/] · [bold]crosstrain compare --last[/]\n"
        "Next: [bold]make ui[/] (MLflow UI on mlflow.db) · [bold]dvc metrics show[/] · "
        "[bold]dvc plots show[/] (writes dvc_plots/index.html) · edit params.yaml, then [bold]dvc repro[/]"
    )
