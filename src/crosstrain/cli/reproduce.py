"""`crosstrain reproduce RUN_ID`: retrain an MLflow run from its commit, params and data version.

    crosstrain reproduce 3f9c2a7e...                 # exit 0 when the metrics agree
    crosstrain reproduce 3f9c2a7e... --keep          # keep the temporary work tree and its MLflow store
"""

from __future__ import annotations

from typing import Annotated

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS


def reproduce(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="An MLflow training run id.")],
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, help="Largest |Δ| of test/val/train accuracy and test macro-F1.")] = 1e-6,
    loss_tolerance: Annotated[float, typer.Option(
        "--loss-tolerance", min=0.0, help="Largest |Δ| of test log-loss and val/train loss.")] = 1e-5,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the temporary work tree (with the new run's MLflow store) afterwards.")] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
) -> None:
    """Retrain a run from its git commit, effective params and DVC data version; compare the metrics.

    Reads the run from the MLflow store of params' `mlflow` section (or MLFLOW_TRACKING_URI), checks
    its commit out into a temporary git worktree, writes its effective params there, restores its
    prepared data by DVC hash (this repository's DVC cache, else `dvc pull` from the default remote)
    and checks the hash, then validates, trains that seed and evaluates with that commit's code. The
    new run goes to a throwaway MLflow store in the temporary tree: your store gets no new runs.

    Exit 0 when every metric agrees: |Δ| <= 1e-6 for accuracies and macro-F1, |Δ| <= 1e-5 for losses
    (deterministic training gives identical numbers on the same machine; other hardware or library
    versions may not). Exit 1 when they differ, or when the run cannot be reproduced (unknown run,
    no lineage tags, commit not in this repository, data in neither the cache nor the remote, data
    hashing differently from the run's digest).
    """
    from rich.console import Console
    from rich.table import Table

    from crosstrain.reproduce import Tolerances
    from crosstrain.reproduce import reproduce as run

    cfg = settings(params, set_)
    tolerances = Tolerances(accuracy=tolerance, loss=loss_tolerance)
    result = run(run_id, cfg.mlflow, tolerances=tolerances, keep=keep, echo=typer.echo)
    table = Table(title=f"run {run_id} vs its reproduction {result.new_run_id}")
    table.add_column("metric", justify="left")
    for column in ("original", "reproduced", "Δ", "tolerance"):
        table.add_column(column, justify="right")
    table.add_column("", justify="left")
    for row in result.rows:
        table.add_row(row.metric, f"{row.original:.6f}", f"{row.new:.6f}", f"{row.diff:+.2e}",
                      f"{row.tolerance:.0e}", "ok" if row.agrees else "DIFFERS")
    Console(width=120).print(table)
    if result.workdir is not None:
        typer.echo(f"reproduce: kept {result.workdir} (remove it with `git worktree remove --force`)")
    if not result.agrees:
        bad = ", ".join(row.metric for row in result.rows if not row.agrees)
        typer.echo(f"reproduce: run {run_id} NOT reproduced: {bad} differ beyond tolerance", err=True)
        raise typer.Exit(1)
    typer.echo(f"reproduce: run {run_id} reproduced: {len(result.rows)} metrics agree within tolerance")
