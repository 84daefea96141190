"""`crosstrain sync`: upload runs journaled offline while the MLflow store was unreachable.

    crosstrain sync --dry-run     # list the journaled runs and what would go up
    crosstrain sync               # upload them (params, every metric step, artifacts); safe to re-run
"""

from __future__ import annotations

from typing import Annotated

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS


def sync(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be uploaded; change nothing.")] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
) -> None:
    """Upload every run journaled in `mlflow.offline_dir` to the tracking store in force.

    Runs are journaled there when `mlflow.offline_fallback` is on and the store stays unreachable for
    `mlflow.retry_timeout_s`. Each is created (or, if it lost the server midway, appended to) with its
    tags, params, every metric with its step and timestamp, its dataset input and artifacts, then
    ended with its status and marked synced; a re-run skips synced runs and resumes a half-done one.
    """
    from crosstrain import tracking

    cfg = settings(params, set_)
    tracker = tracking.Tracker(cfg.mlflow)
    results = tracker.sync(dry_run=dry_run)
    if not results:
        typer.echo(f"sync: nothing journaled in {cfg.mlflow.offline_dir}/")
        return
    for r in results:
        typer.echo(f"sync: {r.journal} ({r.run_name or 'resumed run'}, {r.status}): {r.action}"
                   f"{f' as run {r.run_id}' if r.run_id else ''}; {r.params} params, {r.metrics} metric "
                   f"points, {r.artifacts} artifact files")
    uploaded = sum(r.action == "uploaded" for r in results)
    if not dry_run:
        typer.echo(f"sync: {uploaded} run(s) uploaded to {tracker.uri}")
