"""MLflow's client API and artifact repositories, every call retried like a tracker's own.

For the calls outside a tracker's active run: the registry, nesting runs under a comparison,
reading runs back (`crosstrain compare`, `reproduce`), checkpoint mirrors and the TrainJob staging
area. Each call retries transient failures for `mlflow.retry_timeout_s` (`crosstrain.tracking.retry`),
then raises TrackingUnavailable; MLflow's refusals (an unknown run, a name taken) come out as
TrackingRefused with MLflow's error code, so callers need not import MLflow to tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from crosstrain.config import MlflowConfig
from crosstrain.tracking import retry, store

T = TypeVar("T")


def call(cfg: MlflowConfig, uri: str, fn: Callable[[], T], what: str) -> T:
    """`fn()` with the outage retries of `cfg` (see `crosstrain.tracking.retry.call`)."""
    return retry.call(fn, uri=uri, what=what, timeout_s=cfg.retry_timeout_s, initial_s=cfg.retry_initial_s)


class Retrying:
    """Any MLflow object whose every method is retried; other attributes pass through."""

    def __init__(self, target: Any, cfg: MlflowConfig, uri: str) -> None:
        self._target, self._cfg, self.uri = target, cfg, uri

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def retried(*args: Any, **kwargs: Any) -> Any:
            return call(self._cfg, self.uri, lambda: attr(*args, **kwargs), name.replace("_", " "))

        return retried


class RetryingClient(Retrying):
    """An MlflowClient on `uri` (default: the store `cfg` resolves to) with the outage retries.

    An explicit URI leaves MLflow's global state (and MLFLOW_TRACKING_URI) alone, so a command that
    only reads (`crosstrain compare`) changes nothing for whatever runs next in the process.
    """

    def __init__(self, cfg: MlflowConfig, uri: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        uri = uri or store.tracking_uri(cfg)
        store.check_store(uri)
        retry.bound_http_retries(cfg.retry_timeout_s)
        # Making the client opens a sqlite store (and creates its tables): retried like any call.
        opened = call(cfg, uri, lambda: MlflowClient(store.with_busy_timeout(uri, cfg.sqlite_timeout_s)),
                      "open the store")
        super().__init__(opened, cfg, uri)


def artifact_repository(uri: str, cfg: MlflowConfig | None = None) -> Retrying:
    """MLflow's artifact repository at `uri` (an mlflow-artifacts proxy URL or a local directory), retried.

    `cfg` sets the retry window; default: params' defaults (the TrainJob pods have no params file).
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    cfg = cfg or MlflowConfig()
    retry.bound_http_retries(cfg.retry_timeout_s)
    return Retrying(call(cfg, uri, lambda: get_artifact_repository(uri), "open the artifact store"), cfg, uri)
