"""Deprecated: the module-level tracking API from before the tracker object, as thin wrappers.

Kept only until its last callers take a tracker instead (training/step.py, evaluation/evaluate.py,
export/step.py, perf/modes.py, cli/pipeline.py); then this module goes. New code creates one
`crosstrain.tracking.tracker(cfg)` at the edge and passes it in:

    service.start_run(cfg, run_name=..., tags=..., params=...)  ->  tracker.start_run(run_name=..., ...)
    service.log_metrics(metrics, step)                          ->  tracker.log_metrics(metrics, step)
    service.client(cfg) / service.connect(cfg)                  ->  tracker.client() / tracker.experiment_id()
    service.tracking_uri(cfg) / service.sync(cfg)               ->  tracker.uri / tracker.sync()

`start_run`/`resume_run` make a Tracker for `cfg` and make it this module's current one for the
length of the run; the log functions go to it (outside a run: straight to MLflow, as before).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crosstrain.config import MlflowConfig, Settings
from crosstrain.tracking import lineage, offline, store
from crosstrain.tracking.base import NoTracker
from crosstrain.tracking.client import RetryingClient
from crosstrain.tracking.store import check_reachable
from crosstrain.tracking.tracker import Tracker

__all__ = ["RetryingClient", "check_reachable"]

_current: Tracker | None = None


def current() -> Tracker | NoTracker:
    """The tracker of the run a wrapper started (or resumed); a NoTracker outside one."""
    return _current if _current is not None else NoTracker()


def _logging_to() -> Tracker:
    return _current if _current is not None else Tracker(MlflowConfig())


@contextlib.contextmanager
def _made_current(tracker: Tracker) -> Iterator[Tracker]:
    global _current
    previous, _current = _current, tracker
    try:
        yield tracker
    finally:
        _current = previous


def tracking_uri(cfg: MlflowConfig) -> str:
    """Deprecated: `Tracker(cfg).uri`."""
    return store.tracking_uri(cfg)


def connect(cfg: MlflowConfig) -> str:
    """Deprecated: `tracker.experiment_id()`."""
    return Tracker(cfg).experiment_id()


def git_commit(cwd: Path | None = None) -> str | None:
    """Deprecated: `crosstrain.tracking.lineage.git_commit`."""
    return lineage.git_commit(cwd)


@contextlib.contextmanager
def start_run(cfg: MlflowConfig, *, run_name: str, tags: dict[str, Any], params: dict[str, Any],
              settings: Settings | None = None) -> Iterator[str]:
    """Deprecated: `tracker.start_run(...)`."""
    with _made_current(Tracker(cfg)) as tracker, tracker.start_run(
            run_name=run_name, tags=tags, params=params, settings=settings) as run_id:
        yield run_id


@contextlib.contextmanager
def resume_run(cfg: MlflowConfig, run_id: str) -> Iterator[str]:
    """Deprecated: `tracker.resume_run(run_id)`."""
    with _made_current(Tracker(cfg)) as tracker, tracker.resume_run(run_id) as resumed:
        yield resumed


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Deprecated: `tracker.log_metrics(metrics, step)`."""
    _logging_to().log_metrics(metrics, step)


def set_tags(tags: dict[str, str]) -> None:
    """Deprecated: `tracker.set_tags(tags)`."""
    _logging_to().set_tags(tags)


def log_dataset(data: Any, *, name: str, source: str, digest: str, context: str = "training") -> None:
    """Deprecated: `tracker.log_dataset(...)`."""
    _logging_to().log_dataset(data, name=name, source=source, digest=digest, context=context)


def log_artifacts(path: Path, artifact_path: str | None = None) -> None:
    """Deprecated: `tracker.log_artifacts(path, artifact_path)`."""
    _logging_to().log_artifacts(path, artifact_path)


def log_model(log: Callable[[], Any]) -> Any:
    """Deprecated: `tracker.log_model(log)`."""
    return _logging_to().log_model(log)


def client(cfg: MlflowConfig, uri: str | None = None) -> RetryingClient:
    """Deprecated: `tracker.client()`."""
    return RetryingClient(cfg, uri)


def offline_run() -> offline.Journal | None:
    """Deprecated: `tracker.journal`."""
    return _current.journal if _current is not None else None


def sync(cfg: MlflowConfig, *, dry_run: bool = False) -> list[offline.Synced]:
    """Deprecated: `tracker.sync(dry_run=...)`."""
    return Tracker(cfg).sync(dry_run=dry_run)
