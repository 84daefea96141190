"""`crosstrain compare`: the latest (or a given) comparison, read back from MLflow, as a terminal table.

    crosstrain compare --last
    crosstrain compare --run 3f2a... --markdown compare.md --csv compare.csv
    crosstrain compare --tracking-uri http://mlflow:5000 --experiment crosstrain

Works against the embedded sqlite store and a remote `mlflow server` alike; needs no artefacts on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS, Settings
from crosstrain.errors import ConfigError


def compare(
    *,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="MLflow experiment (default: mlflow.experiment in params)."),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", metavar="PARENT_ID", help="The comparison run to show.")
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="Show the latest comparison run (the default).")
    ] = False,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", metavar="FILE", help="Also write the table as Markdown.")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", metavar="FILE", help="Also write the table as CSV.")
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", metavar="URI", help="MLflow store (default: as train uses)."),
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
) -> None:
    """Print the comparison table from MLflow: mean [CI] over seeds per task, framework and mode."""
    from rich.console import Console
    from rich.table import Table

    from crosstrain import tracking
    from crosstrain.io import atomic_write_text
    from crosstrain.report import table
    from crosstrain.tracking import runs, store

    if run and last:
        raise ConfigError("pass either --run PARENT_ID or --last, not both")
    # Reading MLflow needs no params file: outside a project, the defaults apply.
    cfg = settings(params, set_) if Path(params).exists() or set_ else Settings()
    tracker = tracking.Tracker(cfg.mlflow, tracking_uri)
    store.check_reachable(tracker.uri)
    client = tracker.client()
    parent = runs.find_parent(client, experiment or cfg.mlflow.experiment, run)
    rows = table.rows(runs.children(client, parent), cfg.report)
    title = f"crosstrain comparison {parent.info.run_name} ({parent.info.run_id})"
    view = Table(
        title=f"{title}\nmean ± {cfg.report.confidence:.0%} Student-t interval over seeds (descriptive; "
        "verdicts are in reports/comparison.html)"
    )
    for column in table.header():
        view.add_column(column, justify="left" if column in (*table.KEYS, "runs") else "right")
    for row in rows:
        view.add_row(*table.compact_cells(row))
    # Wide enough for the table even when stdout is a pipe (make, CI), where rich assumes 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(view)
    if not rows:
        typer.echo(f"comparison {parent.info.run_id} has no child runs (were they tracked in another store?)")
    if markdown:
        atomic_write_text(markdown, table.markdown(rows, title))
        typer.echo(f"compare: wrote {markdown}")
    if csv:
        atomic_write_text(csv, table.csv_text(rows))
        typer.echo(f"compare: wrote {csv}")
