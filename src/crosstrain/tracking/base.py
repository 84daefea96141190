"""`NoTracker`: the quiet twin of `crosstrain.tracking.Tracker` (`Tracking` is either of the two).

Ranks other than 0 and library callers that don't track get a `NoTracker`: the same methods, doing
nothing, so the code that trains and evaluates has no `if chief:` branches:

    tracker = tracking.tracker(settings.mlflow, enabled=world.is_chief)
    with tracker.start_run(run_name=name, tags=tags, params=params) as run_id:   # None on rank 1
        tracker.log_metrics({"val/accuracy": 0.9}, step=0)                      # nothing on rank 1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosstrain.config import Settings
from crosstrain.errors import TrackingError

if TYPE_CHECKING:
    from crosstrain.tracking.client import RetryingClient
    from crosstrain.tracking.offline import Journal


class NoTracker:
    """A tracker that tracks nothing: every method does nothing; runs yield the given id or None."""

    run_id: str | None = None
    journal: Journal | None = None

    def __repr__(self) -> str:
        return "NoTracker()"

    @contextlib.contextmanager
    def start_run(self, *, run_name: str, tags: Mapping[str, Any], params: Mapping[str, Any],
                  settings: Settings | None = None) -> Iterator[str | None]:
        """Yields None: no run is made."""
        yield None

    @contextlib.contextmanager
    def resume_run(self, run_id: str) -> Iterator[str | None]:
        """Yields `run_id` unchanged: nothing is re-opened."""
        yield run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Nothing."""

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Nothing."""

    def log_dataset(self, data: Any, *, name: str, source: str, digest: str,
                    context: str = "training") -> None:
        """Nothing."""

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        """Nothing."""

    def log_model(self, log_fn: Callable[[], Any]) -> Any:
        """None: `log_fn` is not called."""
        return None

    def search_runs(self, filter_string: str, *, order_by: list[str] | None = None,
                    max_results: int = 1000) -> list[Any]:
        """No runs."""
        return []

    def experiment_id(self) -> str | None:
        """None: there is no experiment."""
        return None

    def client(self) -> RetryingClient:
        """Raises TrackingError: with tracking off there is no store to talk to."""
        raise TrackingError("tracking is off here (a NoTracker): there is no MLflow store to query")
