"""Which MLflow store a tracker talks to, and how it is opened: the URI, its checks, its lock.

The tracking URI is resolved once per tracker: `MLFLOW_TRACKING_URI` from the environment wins,
otherwise `mlflow.tracking_uri` from params (default: the embedded store `sqlite:///mlflow.db`). For
a local sqlite store, artifacts go to `mlartifacts/` beside the database, like `mlflow server` does.

Concurrency: a sqlite store is opened with a busy timeout (`mlflow.sqlite_timeout_s`), so two
trainings writing to one `mlflow.db` wait for each other's lock instead of failing, and opening the
store (creating its tables and the experiment) is serialised by a file lock in the temp directory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from crosstrain import names
from crosstrain.config import MlflowConfig
from crosstrain.errors import TrackingError
from crosstrain.tracking.retry import TrackingUnavailable

ARTIFACTS_DIR = "mlartifacts"
SQLITE = "sqlite:///"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def tracking_uri(cfg: MlflowConfig) -> str:
    """The tracking URI in force: the environment's, else params'; a relative sqlite path made absolute."""
    return absolute_sqlite(os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri)


def absolute_sqlite(uri: str) -> str:
    """Pin `sqlite:///mlflow.db` to the current directory's file.

    MLflow caches stores by URI string, so a relative one keeps pointing at the directory it was
    first used in; after a chdir (tests, notebooks) runs would land in the old database while
    artifacts went to the new directory's mlartifacts/.
    """
    if not uri.startswith(SQLITE):
        return uri
    path, sep, query = uri.removeprefix(SQLITE).partition("?")
    if not path or Path(path).is_absolute():
        return uri
    return f"{SQLITE}{Path(path).absolute().as_posix()}{sep}{query}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite URI (absolute); None for any other store."""
    if not uri.startswith(SQLITE):
        return None
    return Path(uri.removeprefix(SQLITE).partition("?")[0]).absolute()


def artifact_location(uri: str) -> str | None:
    """For a local sqlite store, keep artifacts in mlartifacts/ next to the database file."""
    db = sqlite_path(uri)
    if db is None:
        return None  # a server decides where artifacts go
    return (db.parent / ARTIFACTS_DIR).as_uri()


def with_busy_timeout(uri: str, seconds: float) -> str:
    """Add sqlite's busy timeout (`?timeout=`, passed on by SQLAlchemy) to a sqlite URI that has none."""
    if not uri.startswith(SQLITE) or "timeout=" in uri.partition("?")[2]:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}timeout={seconds:g}"


def _source(uri: str) -> str:
    """Where the URI came from, as the user would change it."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return "MLFLOW_TRACKING_URI"
    return "mlflow.tracking_uri in params"


def _local_path(uri: str) -> Path | None:
    """The directory a file-store URI (`file:///x`, a plain path) names; None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri:
        return Path(uri)
    return None


def check_store(uri: str) -> None:
    """Fail with one line when `uri` names a local file that cannot be an MLflow store.

    A sqlite URI must name an SQLite database (or a file not there yet, or an empty one: MLflow
    creates the tables); a file-store URI must name a directory. Checked before MLflow opens the
    store, so a wrong URI changes nothing: no table is created, no run is started.
    """
    db = sqlite_path(uri)
    if db is not None:
        if db.is_dir():
            why = "a directory, not an SQLite database"
        elif db.is_file() and db.stat().st_size > 0 and not _has_sqlite_header(db):
            why = "a file that is not an SQLite database"
        else:
            return
        raise TrackingError(
            f"MLflow tracking URI {uri!r} points at {db}, {why}: point {_source(uri)} at an MLflow "
            "store (e.g. sqlite:///mlflow.db, or the http:// address of an MLflow server)"
        )
    path = _local_path(uri)
    if path is not None and path.exists() and not path.is_dir():
        raise TrackingError(
            f"MLflow tracking URI {uri!r} points at the file {path}, not a store directory: point "
            f"{_source(uri)} at an MLflow store (e.g. sqlite:///mlflow.db, or the http:// address of "
            "an MLflow server)"
        )


def _has_sqlite_header(db: Path) -> bool:
    try:
        with db.open("rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError as err:
        raise TrackingError(f"MLflow tracking database {db} cannot be read: {err.strerror or err}") from None


def check_reachable(uri: str, timeout: float = 10.0) -> None:
    """Fail fast when an http(s) tracking server does not answer.

    MLflow's client retries with backoff for minutes before giving up on a wrong URL; one quick
    request to the server's /health endpoint turns that into an immediate, clear error.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # it answered; some deployments don't serve /health, and MLflow will say what's wrong
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TrackingUnavailable(f"MLflow tracking server {uri!r} is unreachable: {reason}") from None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialise opening a sqlite store across this machine's processes (a lock file in the temp dir).

    Two processes opening a fresh `mlflow.db` at once would both create its tables, and both create
    the experiment; one would fail. Later writes need no lock: the busy timeout handles them. The
    lock lives outside the work tree, so no run sees an untracked file (git-dirty) because of it.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    import fcntl
    import hashlib
    import tempfile

    db.parent.mkdir(parents=True, exist_ok=True)
    name = f"crosstrain-mlflow-{hashlib.sha256(str(db).encode()).hexdigest()[:16]}.lock"
    with open(Path(tempfile.gettempdir()) / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def select_experiment(name: str, uri: str) -> str:
    """Make experiment `name` MLflow's active one (creating it, marked as model training); its id.

    MLflow 3 opens an experiment without a kind as GenAI: crosstrain's is marked model development,
    also when it was made before crosstrain marked it; a kind already set (by a user) is kept.
    """
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        experiment_id = mlflow.create_experiment(
            name, artifact_location=artifact_location(uri),
            tags={names.TAG_EXPERIMENT_KIND: names.EXPERIMENT_KIND_TRAINING})
    else:
        experiment_id = experiment.experiment_id
        if names.TAG_EXPERIMENT_KIND not in experiment.tags:
            mlflow.MlflowClient().set_experiment_tag(
                experiment_id, names.TAG_EXPERIMENT_KIND, names.EXPERIMENT_KIND_TRAINING)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
