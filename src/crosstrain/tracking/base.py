"""The shape every tracker has (`Tracking`), and its quiet twin `NoTracker`.

Ranks other than 0 and library callers that don't track get a `NoTracker`: the same methods, doing
nothing, so the code that trains and evaluates has no `if chief:` branches:

    tracker = tracking.tracker(settings.mlflow, enabled=world.is_chief)
    with tracker.start_run(run_name=name, tags=tags, params=params) as run_id:   # None on rank 1
        tracker.log_metrics({"val/accuracy": 0.9}, step=0)                      # nothing on rank 1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crosstrain.config import Settings
from crosstrain.errors import TrackingError

if TYPE_CHECKING:
    from crosstrain.tracking.client import RetryingClient
    from crosstrain.tracking.offline import Journal


class Tracking(Protocol):
    """What `Tracker` and `NoTracker` both offer; type parameters and attributes with this."""

    @property
    def run_id(self) -> str | None:
        """The id of the run being logged; None outside a run (always, for NoTracker)."""

    @property
    def journal(self) -> Journal | None:
        """The offline journal the active run logs to; None while online or without a run."""

    def start_run(self, *, run_name: str, tags: Mapping[str, Any], params: Mapping[str, Any],
                  settings: Settings | None = None) -> AbstractContextManager[str | None]:
        """A new run with `tags` and `params`; yields its id."""

    def resume_run(self, run_id: str) -> AbstractContextManager[str | None]:
        """Re-open the run `run_id`; yields the id it is logged under."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics to the active run."""

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags on the active run."""

    def log_dataset(self, data: Any, *, name: str, source: str, digest: str,
                    context: str = "training") -> None:
        """Record the prepared data as the active run's dataset input."""

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        """Upload a file or a directory to the active run."""

    def log_model(self, log_fn: Callable[[], Any]) -> Any:
        """Log a model with `log_fn()`; its ModelInfo (None for NoTracker)."""

    def search_runs(self, filter_string: str, *, order_by: list[str] | None = None,
                    max_results: int = 1000) -> list[Any]:
        """Runs of the experiment matching `filter_string` ([] for NoTracker)."""

    def experiment_id(self) -> str | None:
        """Select the experiment; its id (None for NoTracker)."""

    def client(self) -> RetryingClient:
        """The retrying MLflow client on this store (NoTracker has none: TrackingError)."""


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
