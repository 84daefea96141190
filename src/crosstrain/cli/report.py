"""`crosstrain report`: the comparison report and the MLflow parent run over every training and mode run."""

from __future__ import annotations

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.layout import Layout


def report(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Write reports/comparison.html, .md, .json and reports/curves/: every task and framework, with CIs."""
    from crosstrain import tracking
    from crosstrain.report.build import build_report

    layout, cfg = Layout(), settings(params, set_)
    result = build_report(cfg, layout, tracker=tracking.Tracker(cfg.mlflow))
    for task, task_result in result["results"].items():
        fairness = task_result.get("fairness") or {}
        if not fairness.get("fair", True):
            differences = "; ".join(fairness.get("differences", []))
            typer.echo(f"report {task}: unfair comparison, no verdict: {differences}")
            continue
        for verdict in task_result["verdict"]:
            if verdict["headline"]:
                typer.echo(f"report {task}: {verdict['text']}")
    typer.echo(
        f"report: {layout.report('html')} and {layout.report('md')}; "
        f"MLflow parent run {result['parent_run_id']}"
    )
