"""Bounded retries for MLflow calls: exponential backoff on transient failures, then one clear error.

Transient: the server did not answer (connection refused or reset, a timeout), answered 5xx or 429,
or a sqlite store was locked by another writer (MLflow reports that as TEMPORARILY_UNAVAILABLE).
Anything else (a 4xx: bad input, an unknown run) fails at once: retrying would not change the answer.

MLflow's own HTTP client retries too (MLFLOW_HTTP_REQUEST_MAX_RETRIES, default 7 with a backoff
factor of 2: minutes per request). `bound_http_retries` turns those down, unless the user set them,
so the total wait is the one `mlflow.retry_timeout_s` allows.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from crosstrain.errors import TrackingError

T = TypeVar("T")
log = logging.getLogger(__name__)

_TRANSIENT_CODES = {
    "INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED",
}
MAX_SLEEP_S = 10.0  # backoff cap: a server back up is noticed within this


class TrackingUnavailable(TrackingError):
    """The tracking store stayed unreachable for the whole retry window (the offline fallback's cue)."""


class TrackingRefused(TrackingError):
    """MLflow answered with an error that retrying would not change (an unknown run, a name taken).

    `error_code` is MLflow's (e.g. `RESOURCE_ALREADY_EXISTS`) and `reason` its message, so a caller
    can tell an expected refusal from a failure without importing MLflow.
    """

    def __init__(self, message: str, *, error_code: str, reason: str) -> None:
        super().__init__(message)
        self.error_code, self.reason = error_code, reason


def is_transient(err: BaseException) -> bool:
    """True for failures worth retrying: no answer, 5xx/429, or a locked sqlite store."""
    from mlflow.exceptions import MlflowException

    if isinstance(err, MlflowException):
        status = err.get_http_status_code()
        return status >= 500 or status == 429 or err.error_code in _TRANSIENT_CODES
    try:
        import requests
    except ImportError:  # pragma: no cover - mlflow depends on requests
        requests = None
    if requests is not None and isinstance(err, requests.exceptions.RequestException):
        response = getattr(err, "response", None)
        return response is None or response.status_code >= 500 or response.status_code == 429
    if type(err).__name__ == "OperationalError" and "database is locked" in str(err):
        return True  # sqlalchemy's own, raised while MLflow opens a sqlite store another process writes
    return isinstance(err, (ConnectionError, TimeoutError))


def _is_database_error(err: BaseException) -> bool:
    """sqlalchemy's DatabaseError (its OperationalError included): a sqlite file MLflow cannot use."""
    return any(cls.__name__ == "DatabaseError" and cls.__module__.startswith("sqlalchemy")
               for cls in type(err).__mro__)


def _first_line(err: BaseException) -> str:
    """sqlalchemy's message without its SQL and background-link lines."""
    text = str(getattr(err, "orig", None) or err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def bound_http_retries(timeout_s: float) -> None:
    """Cap MLflow's per-request retries and timeout so our own backoff decides how long we wait.

    Only where the user left them unset; MLflow reads them on every request, so this takes effect
    for calls made from now on in this process (and its children).
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(5, min(120, int(timeout_s)))))


def call(fn: Callable[[], T], *, uri: str, what: str, timeout_s: float, initial_s: float) -> T:
    """Run `fn`, retrying transient failures with exponential backoff for up to `timeout_s` seconds.

    Raises TrackingUnavailable (naming `uri` and `what`) once the window is spent, and TrackingError
    at once for a failure that is not transient.
    """
    from mlflow.exceptions import MlflowException

    deadline = time.monotonic() + timeout_s
    delay = initial_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - classified just below, re-raised when not transient
            if not is_transient(err):
                if isinstance(err, MlflowException):
                    message = f"MLflow tracking at {uri!r} failed to {what}: {err.message}"
                    raise TrackingRefused(message, error_code=err.error_code, reason=err.message) from None
                if _is_database_error(err):
                    raise TrackingError(
                        f"MLflow tracking at {uri!r} failed to {what}: {_first_line(err)}; point "
                        "MLFLOW_TRACKING_URI (or mlflow.tracking_uri in params) at an MLflow store"
                    ) from None
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                reason = err.message if isinstance(err, MlflowException) else f"{type(err).__name__}: {err}"
                reason = " ".join(str(reason).split())[:300]
                raise TrackingUnavailable(
                    f"MLflow tracking at {uri!r} unavailable for {timeout_s:g}s ({attempt} attempts) "
                    f"while trying to {what}: {reason}"
                ) from None
            log.warning("MLflow at %s: %s failed (%s); retrying in %.1fs",
                        uri, what, type(err).__name__, delay)
            time.sleep(min(delay, left))
            delay = min(delay * 2, MAX_SLEEP_S)
