"""The report step: artefacts in; reports/comparison.html|md|json, reports/curves/ and a parent run out.

    crosstrain report

Everything is computed first and written into a temporary directory inside reports/; only when the
parent run has logged it are the files renamed into place, so an error leaves the previous report
(or none) rather than half of a new one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.errors import UnfairComparison
from crosstrain.fairness import compare
from crosstrain.finite import finite_or_none
from crosstrain.layout import Layout
from crosstrain.report import html, markdown, parent, plots, reference
from crosstrain.report.collect import TaskInputs, collect
from crosstrain.report.summarize import summarize_framework
from crosstrain.report.verdict import task_verdict
from crosstrain.tracking.tracker import Tracker

CURVE_COLUMNS = (
    "epoch",
    names.WALL_TIME,
    names.VAL_ACCURACY,
    f"{names.VAL_ACCURACY}_low",
    f"{names.VAL_ACCURACY}_high",
)


def environment(settings: Settings, tasks: list[str]) -> dict:
    """describe() of this machine, plus its matmul peak at every thread count the tasks trained with."""
    from crosstrain import environment as env

    threads = sorted({settings.train_for(task).threads for task in tasks})
    described = env.describe(threads[0] if len(threads) == 1 else None)
    described["threads"] = threads[0] if len(threads) == 1 else threads
    described["matmul_peak"] = [env.matmul_peak_gflops(t) for t in threads]
    return described


def _peak(env: dict, threads: int | None) -> float | None:
    return next((p["peak_gflops"] for p in env["matmul_peak"] if p["threads"] == threads), None)


def _task_result(inputs: TaskInputs, settings: Settings, env: dict) -> dict:
    peak = _peak(env, settings.train_for(inputs.task).threads)
    summaries = {fw: summarize_framework(fi, settings.report, peak) for fw, fi in inputs.frameworks.items()}
    preds = {fw: fi.predictions for fw, fi in inputs.frameworks.items()}
    registry = inputs.registry
    # Both frameworks train in the same mode here, so no field is the dimension being compared.
    fairness = compare.audit(inputs.task, {fw: compare.records_of(fi.metrics)
                                           for fw, fi in inputs.frameworks.items()})
    return {
        "frameworks": summaries,
        "fairness": fairness,
        # An unfair comparison gets no verdict: its numbers are shown, its winner is not named.
        "verdict": task_verdict(inputs.task, summaries, preds, settings.report, speed=inputs.speed,
                                fairness=fairness),
        "registry": None
        if registry is None
        else {"champion": registry.get("champion"), "gate": registry.get("gate")},
        # The classical reference's row and verdict line (absent: the row says so).
        "reference": reference.summarize(inputs.task, inputs.reference, summaries, preds, settings.report,
                                         fair=fairness.get("fair", True)),
    }


def compute(settings: Settings, layout: Layout) -> dict:
    """The report's numbers (what comparison.json holds), without writing or tracking anything."""
    tasks = collect(settings, layout)
    env = environment(settings, [t.task for t in tasks])
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parent_run_id": None,
        "confidence": settings.report.confidence,
        "equivalence_margin": settings.report.equivalence_margin,
        "speed_equivalence": settings.report.speed_equivalence,
        "bootstrap_samples": settings.report.bootstrap_samples,
        "seeds": list(settings.seeds),
        "frameworks": [str(fw) for fw in settings.frameworks],
        "environment": env,
        "results": {t.task: _task_result(t, settings, env) for t in tasks},
    }


def _write_curves(directory: Path, report: dict) -> None:
    for task, result in report["results"].items():
        (directory / task).mkdir(parents=True, exist_ok=True)
        for fw, summary in result["frameworks"].items():
            with open(directory / task / f"{fw}.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(CURVE_COLUMNS)
                writer.writerows([[f"{p[c]:.6g}" for c in CURVE_COLUMNS] for p in summary["curves"]])


def _stage(staging: Path, report: dict, figures: dict) -> None:
    """Write every output under `staging`, named as it will be under reports/."""
    (staging / "comparison.html").write_text(html.render(report, figures))
    (staging / "comparison.md").write_text(markdown.render(report))
    (staging / "comparison.json").write_text(
        json.dumps(finite_or_none(report), indent=2, sort_keys=True, default=str) + "\n"
    )
    _write_curves(staging / "curves", report)


def _publish(staging: Path, layout: Layout) -> None:
    """Move the staged outputs to their places under reports/ (renames within one filesystem)."""
    curves = layout.curves("task", "framework").parents[1]  # reports/curves/
    if curves.exists():
        old = curves.with_name(f".curves.old-{os.getpid()}")
        os.replace(curves, old)
        os.replace(staging / "curves", curves)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging / "curves", curves)
    for suffix in ("html", "md", "json"):
        os.replace(staging / f"comparison.{suffix}", layout.report(suffix))


def build_report(settings: Settings, layout: Layout, track: bool = True,
                 tracker: Tracker | None = None) -> dict:
    """Write the comparison report for every enabled task and framework; returns comparison.json's content.

    With `track`, the MLflow parent run is created in `tracker`'s store (default: the one
    `settings.mlflow` names; its id goes into the report) and the training and mode runs are nested
    under it; without, the report is only written (used where no store is).
    """
    report = compute(settings, layout)
    figures = {
        task: plots.task_figures(task, result["frameworks"]) for task, result in report["results"].items()
    }
    reports_dir = layout.report("html").parent
    reports_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".comparison.", suffix=".tmp", dir=reports_dir))
    try:

        def render(run_id: str | None) -> Path:
            report["parent_run_id"] = run_id
            _stage(staging, report, figures)
            return staging

        if track:
            parent.track(settings, report, render, tracker)
        else:
            render(None)
        _publish(staging, layout)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # The report is written (its fairness audit shows what differs), but the step fails: `dvc repro`
    # stops here and nothing downstream treats the comparison as valid.
    unfair = [line for result in report["results"].values() for line in result["fairness"]["differences"]]
    if unfair:
        raise UnfairComparison(unfair)
    return report
