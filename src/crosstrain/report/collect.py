"""Read what the earlier steps wrote for one task and framework, and nothing else.

Required inputs (evaluate's metrics, history and predictions) missing is an error naming the file
and the command that makes it; the optional ones (modes, ONNX, registry, the paired timings of
`crosstrain speed`, the classical reference of `crosstrain reference`) become None and the report
says "not measured".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.errors import MissingInputError
from crosstrain.io import read_json
from crosstrain.layout import Layout


@dataclass(frozen=True)
class FrameworkInputs:
    """One framework's artefacts for one task."""

    framework: str
    metrics: dict  # metrics/<task>/<fw>.json
    history: list[dict[str, float]]  # plots/<task>/<fw>/history.csv rows (seed and epoch included)
    predictions: list[dict[str, str]]  # plots/<task>/<fw>/predictions.csv rows
    modes: dict | None  # metrics/<task>/modes/<fw>.json
    onnx: dict | None  # metrics/<task>/onnx/<fw>.json

    @property
    def runs(self) -> list[dict]:
        """One entry per seed: its run id and every metric of that seed's model."""
        return self.metrics.get("runs", [])


@dataclass(frozen=True)
class TaskInputs:
    """Every framework's artefacts for one task, plus what register decided and the paired timings."""

    task: str
    frameworks: dict[str, FrameworkInputs]
    registry: dict | None
    speed: dict | None = None  # metrics/<task>/speed.json: the only input of the speed and memory verdicts
    reference: dict | None = None  # metrics/<task>/reference.json (an older run has none)


def enabled_tasks(settings: Settings) -> list[str]:
    """The enabled tasks (`enabled: true`), in params order: what the report and a pipeline run cover."""
    return [name for name, cfg in settings.tasks.items() if cfg.enabled]


def _require(path: Path, command: str) -> Path:
    if not path.exists():
        raise MissingInputError(f"{path} not found: run `{command}` first (or `make run` for everything)")
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _numeric_rows(rows: list[dict[str, str]]) -> list[dict[str, float]]:
    """CSV cells as floats; an empty cell (a value a framework could not record) as NaN."""
    return [
        {key: float(value) if value not in ("", None) else float("nan") for key, value in row.items()}
        for row in rows
    ]


def _optional_json(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def collect_framework(task: str, framework: str, layout: Layout) -> FrameworkInputs:
    """One framework's artefacts for `task`; MissingInputError for a required one that is absent."""
    evaluate = f"crosstrain evaluate --task {task} --framework {framework}"
    metrics = read_json(_require(layout.metrics(task, framework), evaluate))
    if not metrics.get("runs"):
        raise MissingInputError(
            f"{layout.metrics(task, framework)} lists no runs (written by an older crosstrain?): "
            f"run `{evaluate}`"
        )
    plots = layout.plots(task, framework)
    history = _numeric_rows(_read_csv(_require(plots / names.HISTORY_CSV, evaluate)))
    predictions = _read_csv(_require(plots / names.PREDICTIONS_CSV, evaluate))
    return FrameworkInputs(
        framework=framework,
        metrics=metrics,
        history=history,
        predictions=predictions,
        modes=_optional_json(layout.modes(task, framework)),
        onnx=_optional_json(layout.onnx(task, framework)),
    )


def collect(settings: Settings, layout: Layout) -> list[TaskInputs]:
    """Every enabled task's artefacts for every framework in params."""
    tasks = []
    for task in enabled_tasks(settings):
        frameworks = {str(fw): collect_framework(task, str(fw), layout) for fw in settings.frameworks}
        tasks.append(
            TaskInputs(task, frameworks, _optional_json(layout.registry(task)),
                       _optional_json(layout.speed(task)), _optional_json(layout.reference(task)))
        )
    if not tasks:
        raise MissingInputError("no enabled task in params: enable one under `tasks` to report on it")
    return tasks
