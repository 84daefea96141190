"""The comparison's MLflow parent run: the report's summary metrics and files, with every run nested under it.

Training and mode runs exist before the report does, so nesting is done afterwards by tagging each
child with `mlflow.parentRunId`; the MLflow UI then shows one expandable comparison per `make run`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.errors import TrackingError
from crosstrain.tracking import runs
from crosstrain.tracking.tracker import Tracker

log = logging.getLogger(__name__)

TAG_TASKS, TAG_FRAMEWORKS, TAG_SEEDS = names.TAG_TASKS, names.TAG_FRAMEWORKS, names.TAG_SEEDS
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-. /]")  # MLflow metric names allow these only


def run_name(generated_at: str) -> str:
    """`comparison-20250101T120000Z` from the report's ISO timestamp."""
    return "comparison-" + re.sub(r"[-:]|\.\d+", "", generated_at).replace("+0000", "Z")


def child_run_ids(report: dict) -> list[str]:
    """Every training run (one per seed), mode run and reference run the report covers, in order, without
    repeats."""
    ids = []
    for result in report["results"].values():
        for summary in result["frameworks"].values():
            ids += [run_id for run_id in summary["run_ids"] if run_id]
            ids += [m["run_id"] for m in summary["modes"] or [] if m.get("run_id")]
        ids += [run_id for run_id in [(result.get("reference") or {}).get("run_id")] if run_id]
    return list(dict.fromkeys(ids))


def summary_metrics(report: dict) -> dict[str, float]:
    """`<task>.<framework>.<metric>_mean|_low|_high` for every metric, the modes and ONNX timings,
    `<task>.accuracy_difference_*` (first framework minus second, over seeds x test examples) and
    `<task>.<question>_ratio_*` (second framework's step time, p50 latency, peak RSS over the first's),
    and the classical reference's figures and each framework's accuracy minus it."""
    out: dict[str, float] = {}
    for task, result in report["results"].items():
        for fw, summary in result["frameworks"].items():
            out.update(_framework_metrics(f"{task}.{fw}", summary))
        for verdict in result["verdict"]:
            out.update(_verdict_metrics(task, verdict))
        out.update(_reference_metrics(task, result.get("reference") or {}))
    return {_UNSAFE.sub("_", key): value for key, value in out.items()}


_PARTS = ("mean", "low", "high")


def _framework_metrics(prefix: str, summary: dict) -> dict[str, float]:
    """One framework's metric intervals, mode figures and ONNX timings, under `<task>.<framework>`."""
    out = {f"{prefix}.{metric}_{part}": ci[part]
           for metric, ci in summary["metrics"].items() for part in _PARTS}
    for mode in summary["modes"] or []:
        out.update({f"{prefix}.{mode['mode']}.{metric}": value for metric, value in mode.items()
                    if isinstance(value, float)})
    out.update({f"{prefix}.{metric}": value for metric, value in (summary["onnx"] or {}).items()
                if isinstance(value, float)})
    return out


def _reference_metrics(task: str, section: dict) -> dict[str, float]:
    """`<task>.reference.<metric>` and `<task>.<framework>.reference_difference_*` (framework minus it)."""
    out = {f"{task}.{names.REFERENCE}.{metric}": float(value)
           for metric, value in section.get("metrics", {}).items()}
    for fw, diff in section.get("differences", {}).items():
        out.update({f"{task}.{fw}.reference_difference_{part}": diff[part] for part in _PARTS})
    return out


def _verdict_metrics(task: str, verdict: dict) -> dict[str, float]:
    """The accuracy difference or the speed/latency/memory ratio one verdict carries."""
    out = {}
    if "difference" in verdict:
        out.update({f"{task}.accuracy_difference_{part}": verdict["difference"][part] for part in _PARTS})
    if "ratio" in verdict:
        question = verdict["question"].replace(" ", "_")
        out.update({f"{task}.{question}_ratio_{part}": verdict["ratio"][part] for part in _PARTS})
    return out


def data_digests(tracker: Tracker, report: dict) -> dict[str, str]:
    """Each task's data digest, read off one of its training runs: the data the comparison rests on."""
    client = tracker.client()
    found = {}
    for task, result in report["results"].items():
        ids = [run_id for summary in result["frameworks"].values() for run_id in summary["run_ids"] if run_id]
        try:
            digest = client.get_run(ids[0]).data.tags.get(names.TAG_DATA_DIGEST) if ids else None
        except (OSError, TrackingError) as err:
            # Only a tag: an unreachable store fails the parent run itself, with the tracker's retries.
            log.warning("no data digest for %s: %s", task, err)
            continue
        if digest:
            found[task] = digest
    return found


def track(settings: Settings, report: dict, render: Callable[[str], Path],
          tracker: Tracker | None = None) -> str:
    """Open the parent run, `render(run_id)` the report into a directory, log it there, nest the children.

    Everything happens inside the run, so a failure marks the parent FAILED and leaves no report.
    `tracker` is the store's (default: `Tracker(settings.mlflow)`).
    """
    tracker = tracker or Tracker(settings.mlflow)
    tags = {
        names.TAG_KIND: names.KIND_COMPARISON,
        TAG_TASKS: ",".join(report["results"]),
        TAG_FRAMEWORKS: ",".join(report["frameworks"]),
        TAG_SEEDS: ",".join(map(str, report["seeds"])),
    }
    digests = data_digests(tracker, report)
    # One digest per task; the parent's own TAG_DATA_DIGEST lists them all, `task=digest`.
    tags.update({f"{names.TAG_DATA_DIGEST}.{task}": digest for task, digest in digests.items()})
    if digests:
        tags[names.TAG_DATA_DIGEST] = ",".join(f"{task}={digest}" for task, digest in digests.items())
    params = {
        "confidence": report["confidence"],
        "bootstrap_samples": report["bootstrap_samples"],
        "seeds": tags[TAG_SEEDS],
        "frameworks": tags[TAG_FRAMEWORKS],
        "tasks": tags[TAG_TASKS],
    }
    with tracker.start_run(
        run_name=run_name(report["generated_at"]), tags=tags, params=params, settings=settings
    ) as run_id:
        staged = render(run_id)
        runs.set_parent(child_run_ids(report), run_id, tracker.client())
        tracker.log_metrics(summary_metrics(report))
        tracker.log_artifacts(staged, artifact_path=names.REPORT_ARTIFACTS)
    return run_id
