"""MLflow, behind one small service shared by train, evaluate and register.

The tracking URI is resolved once: `MLFLOW_TRACKING_URI` from the environment wins, otherwise
`mlflow.tracking_uri` from params (default: the embedded store `sqlite:///mlflow.db`). For a local
sqlite store, artifacts go to `mlartifacts/` beside the database, like `mlflow server` does.

Outages: every MLflow call here retries transient failures with exponential backoff for
`mlflow.retry_timeout_s` (`crosstrain.tracking.retry`), then fails the step with a TrackingError
naming the tracking URI, or, with `mlflow.offline_fallback` on, journals the run locally
(`crosstrain.tracking.offline`) for `crosstrain sync` to upload later. A run that loses the server
midway keeps its id: the rest of it is journaled and sync appends it to that run.

Concurrency: a sqlite store is opened with a busy timeout (`mlflow.sqlite_timeout_s`), so two
trainings writing to one `mlflow.db` wait for each other's lock instead of failing; a lock that
outlasts it is retried like an outage, and opening the store (creating its tables and the
experiment) is serialised by a file lock (in the temp directory). What runs in parallel: two
`dvc repro`/`make run` in one repository do not (DVC's repo lock: the second stops with "Unable
to acquire lock"); `dvc exp run --queue` + `dvc queue start -j N`, separate clones or worktrees,
and `crosstrain train` called directly do, and all may share one sqlite store or server.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from crosstrain.config import MlflowConfig, Settings
from crosstrain.errors import TrackingError
from crosstrain.names import EFFECTIVE_PARAMS_ARTIFACT
from crosstrain.tracking import lineage, offline, retry
from crosstrain.tracking.retry import TrackingUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

ARTIFACTS_DIR = "mlartifacts"
DATASET_DIGEST_MAX = 36  # MLflow's column for a dataset digest


def tracking_uri(cfg: MlflowConfig) -> str:
    """The tracking URI in force: the environment's, else params'; a relative sqlite path made absolute."""
    return _absolute_sqlite(os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri)


def _absolute_sqlite(uri: str) -> str:
    """Pin `sqlite:///mlflow.db` to the current directory's file.

    MLflow caches stores by URI string, so a relative one keeps pointing at the directory it was
    first used in; after a chdir (tests, notebooks) runs would land in the old database while
    artifacts went to the new directory's mlartifacts/.
    """
    if not uri.startswith("sqlite:///"):
        return uri
    path, sep, query = uri.removeprefix("sqlite:///").partition("?")
    if not path or Path(path).is_absolute():
        return uri
    return f"sqlite:///{Path(path).absolute().as_posix()}{sep}{query}"


def _artifact_location(uri: str, experiment: str) -> str | None:
    """For a local sqlite store, keep artifacts in mlartifacts/ next to the database file."""
    if not uri.startswith("sqlite:///"):
        return None  # a server decides where artifacts go
    db = Path(uri.removeprefix("sqlite:///").partition("?")[0])
    return (db.absolute().parent / ARTIFACTS_DIR).as_uri()


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


def _with_busy_timeout(uri: str, seconds: float) -> str:
    """Add sqlite's busy timeout (`?timeout=`, passed on by SQLAlchemy) to a sqlite URI that has none."""
    if not uri.startswith("sqlite:///") or "timeout=" in uri.partition("?")[2]:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}timeout={seconds:g}"


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise opening a sqlite store across this machine's processes (a lock file in the temp dir).

    Two processes opening a fresh `mlflow.db` at once would both create its tables, and both create
    the experiment; one would fail. Later writes need no lock: the busy timeout handles them. The
    lock lives outside the work tree, so no run sees an untracked file (git-dirty) because of it.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl
    import hashlib
    import tempfile

    db = Path(uri.removeprefix("sqlite:///").partition("?")[0]).absolute()
    db.parent.mkdir(parents=True, exist_ok=True)
    name = f"crosstrain-mlflow-{hashlib.sha256(str(db).encode()).hexdigest()[:16]}.lock"
    with open(Path(tempfile.gettempdir()) / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Active:
    """The run this process logs to: online (MLflow's active run) or journaled (an offline.Journal)."""

    def __init__(self, cfg: MlflowConfig, uri: str, run_id: str, journal: offline.Journal | None = None):
        self.cfg, self.uri, self.run_id, self.journal = cfg, uri, run_id, journal

    def call(self, fn: Callable[[], T], what: str) -> T:
        return _retry(self.cfg, self.uri, fn, what)

    def go_offline(self, err: TrackingUnavailable) -> offline.Journal:
        """Journal the rest of this run (it keeps its MLflow id: sync appends to it)."""
        if not self.cfg.offline_fallback:
            raise err
        log.warning("%s; journaling the rest of run %s offline (crosstrain sync uploads it)",
                    err, self.run_id)
        self.journal = offline.Journal.create(
            Path(self.cfg.offline_dir), experiment=self.cfg.experiment, tracking_uri=self.uri,
            remote_run_id=self.run_id,
        )
        return self.journal


_active: _Active | None = None


def _retry(cfg: MlflowConfig, uri: str, fn: Callable[[], T], what: str) -> T:
    return retry.call(fn, uri=uri, what=what, timeout_s=cfg.retry_timeout_s, initial_s=cfg.retry_initial_s)


def connect(cfg: MlflowConfig) -> str:
    """Point MLflow at the store and select (creating if needed) the experiment; returns its id.

    Retries an unreachable store for `cfg.retry_timeout_s`; then raises TrackingUnavailable.
    """
    import mlflow

    # The sqlite store logs every alembic migration at INFO on first use; that's noise for users.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    retry.bound_http_retries(cfg.retry_timeout_s)
    uri = tracking_uri(cfg)
    _retry(cfg, uri, lambda: check_reachable(uri), "reach the server")
    # set_tracking_uri also exports MLFLOW_TRACKING_URI (for subprocesses); undo that, or from now on
    # "the environment's" would always win and a later config (another store, directory) be ignored.
    exported = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(_with_busy_timeout(uri, cfg.sqlite_timeout_s))
    if exported is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = exported

    def select() -> str:
        experiment = mlflow.get_experiment_by_name(cfg.experiment)
        if experiment is None:
            experiment_id = mlflow.create_experiment(
                cfg.experiment, artifact_location=_artifact_location(uri, cfg.experiment)
            )
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    try:
        with _store_lock(uri):
            return _retry(cfg, uri, select, f"select experiment {cfg.experiment!r}")
    except OSError as err:
        raise TrackingError(f"MLflow tracking at {uri!r} is unreachable: {err}") from None


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit, or None outside a git work tree."""
    return lineage.git_commit(cwd)


def _end_status(exc: BaseException | None) -> str:
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "FAILED"


@contextlib.contextmanager
def _activate(active: _Active) -> Iterator[str]:
    """Make `active` the run log_* calls go to; end it (online and/or in its journal) on exit."""
    import mlflow

    global _active
    _active = active
    exc: BaseException | None = None
    try:
        yield active.run_id
    except BaseException as err:
        exc = err
        raise
    finally:
        _active = None
        status = _end_status(exc)
        if active.journal is not None:
            active.journal.end(status)
            # Pop MLflow's active run without waiting on the server: the journal carries the status.
            if mlflow.active_run() is not None:
                with contextlib.suppress(Exception):
                    mlflow.end_run(status)
        elif mlflow.active_run() is not None:
            _end_online(active, status, exc)


def _end_online(active: _Active, status: str, exc: BaseException | None) -> None:
    """Mark the online run ended; never hides the exception that ended it."""
    import mlflow

    if isinstance(exc, TrackingUnavailable):  # the server is known to be down: one try, no waiting
        with contextlib.suppress(Exception):
            mlflow.end_run(status)
        return
    try:
        active.call(lambda: mlflow.end_run(status), "end the run")
    except TrackingUnavailable as err:
        # MLflow popped the run before asking the server; with the fallback, sync sets the status.
        if active.cfg.offline_fallback:
            active.go_offline(err).end(status)
        elif exc is None:
            raise
        else:
            log.warning("%s (run %s stays RUNNING there)", err, active.run_id)


@contextlib.contextmanager
def start_run(
    cfg: MlflowConfig, *, run_name: str, tags: dict[str, Any], params: dict[str, Any],
    settings: Settings | None = None,
) -> Iterator[str]:
    """A new MLflow run with tags and params logged; yields its id and ends it FAILED on error.

    Every run gets the lineage tags (git commit and dirty flag, library versions; see
    `crosstrain.tracking.lineage`). Given the run's `settings`, it also gets their hash
    (TAG_PARAMS_HASH) and the effective params file (EFFECTIVE_PARAMS_ARTIFACT), which
    `crosstrain reproduce` restores. The caller's `tags` win over the lineage ones.
    With the store unreachable and `cfg.offline_fallback` on, the run is journaled and its id is
    the journal's (`offline-...`).
    """
    import mlflow

    uri = tracking_uri(cfg)
    all_tags = {**lineage.tags(settings), **{k: str(v) for k, v in tags.items()}}
    params = {k: str(v) for k, v in params.items()}
    text = lineage.effective_params_yaml(settings) if settings is not None else None
    try:
        connect(cfg)
        run = _retry(cfg, uri, lambda: mlflow.start_run(run_name=run_name, tags=all_tags), "start a run")
    except TrackingUnavailable as err:
        if not cfg.offline_fallback:
            raise
        log.warning("%s; journaling run %r offline (crosstrain sync uploads it)", err, run_name)
        journal = offline.Journal.create(Path(cfg.offline_dir), experiment=cfg.experiment, tracking_uri=uri,
                                         run_name=run_name, tags=all_tags, params=params)
        if text is not None:
            journal.log_text(text, EFFECTIVE_PARAMS_ARTIFACT)
        with _activate(_Active(cfg, uri, journal.run_id, journal)) as run_id:
            yield run_id
        return
    active = _Active(cfg, uri, run.info.run_id)
    with _activate(active) as run_id:
        try:
            active.call(lambda: mlflow.log_params(params), "log params")
            if text is not None:
                active.call(lambda: mlflow.log_text(text, EFFECTIVE_PARAMS_ARTIFACT), "log effective params")
        except TrackingUnavailable as err:
            journal = active.go_offline(err)
            journal.log_params(params)
            if text is not None:
                journal.log_text(text, EFFECTIVE_PARAMS_ARTIFACT)
        yield run_id


@contextlib.contextmanager
def resume_run(cfg: MlflowConfig, run_id: str) -> Iterator[str]:
    """Re-open an existing run (evaluate adds test metrics to the training run).

    A journaled run (`offline-...`) is re-opened in its journal, or, once synced, online under the
    id sync gave it (yielded); with the store unreachable and the fallback on, what is logged is
    journaled for `crosstrain sync` to append to `run_id`.
    """
    import mlflow

    uri = tracking_uri(cfg)
    if offline.is_offline_id(run_id):
        journal = offline.Journal.open(Path(cfg.offline_dir), run_id)
        if not journal.info["synced"]:
            with _activate(_Active(cfg, uri, run_id, journal)):
                yield run_id
            return
        run_id = journal.run_id  # uploaded by `crosstrain sync`: re-open it where it now is
    active = _Active(cfg, uri, run_id)
    try:
        connect(cfg)
        active.call(lambda: mlflow.start_run(run_id=run_id), f"re-open run {run_id}")
    except TrackingUnavailable as err:
        active.go_offline(err)
    except TrackingError as err:
        raise TrackingError(f"{err} (was the model trained against another tracking store?)") from None
    with _activate(active):
        yield run_id


def _log(what: str, online: Callable[[], None], journaled: Callable[[offline.Journal], None]) -> None:
    """Send one logging call to the active run: retried online, else (or once offline) to the journal."""
    if _active is None:
        online()  # no run of ours: MLflow's own active run (or its error), as before
        return
    if _active.journal is None:
        try:
            _active.call(online, what)
            return
        except TrackingUnavailable as err:
            _active.go_offline(err)
    journaled(_active.journal)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log metrics to the active run (timestamped now, so a retried or synced point keeps its time)."""
    import mlflow

    values = {k: float(v) for k, v in metrics.items()}
    timestamp = int(time.time() * 1000)
    _log("log metrics",
         lambda: mlflow.log_metrics(values, step=step, timestamp=timestamp),
         lambda journal: journal.log_metrics(values, step=step or 0, timestamp=timestamp))


def set_tags(tags: dict[str, str]) -> None:
    """Set tags on the active run (a tag known only after the run began, e.g. the fairness digest)."""
    import mlflow

    values = {k: str(v) for k, v in tags.items()}
    _log("set tags", lambda: mlflow.set_tags(values), lambda journal: journal.set_tags(values))


def log_dataset(data, *, name: str, source: str, digest: str, context: str = "training") -> None:
    """Record the prepared data as the run's dataset input, with its DVC hash as the digest.

    `data` is a DataFrame with a `label` column (tables, texts) or an (x, y) pair of arrays (images).
    `digest` is the DVC md5 of the prepared directory ("<32 hex>.dir", 36 characters: exactly what
    MLflow's dataset digest holds); a longer digest is cut to 36 here and kept whole in
    TAG_DATA_DIGEST by the caller.
    """
    import mlflow
    import pandas as pd

    digest = digest[:DATASET_DIGEST_MAX]

    def online() -> None:
        with warnings.catch_warnings():
            # MLflow 3.17 registers its local-file dataset source twice and warns about the ambiguity, and
            # hints that integer columns cannot hold NaN: neither applies to prepared, validated data.
            warnings.simplefilter("ignore", UserWarning)
            if isinstance(data, pd.DataFrame):
                dataset = mlflow.data.from_pandas(data, source=source, targets="label", name=name,
                                                  digest=digest)
            else:
                x, y = data
                dataset = mlflow.data.from_numpy(x, source=source, targets=y, name=name, digest=digest)
            mlflow.log_input(dataset, context=context)

    _log("log the dataset", online,
         lambda journal: journal.log_input(name=name, source=source, digest=digest, context=context))


def log_artifacts(path: Path, artifact_path: str | None = None) -> None:
    """Upload a file or a directory to the active run."""
    import mlflow

    path = Path(path)

    def online() -> None:
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_path)

    _log(f"upload {path.name}", online, lambda journal: journal.log_artifacts(path, artifact_path))


def log_model(log: Callable[[], Any]) -> Any:
    """Log a model to the active run with `log()` (e.g. a framework's `log_model`); returns its ModelInfo.

    Online, `log` is retried like any call. Journaled, it logs into a throwaway local store inside
    the journal, and the model's files are kept as the journal's `model/` artifacts: the returned
    info's `model_uri` is then `runs:/<run id>/model`, valid once `crosstrain sync` has uploaded it.
    """
    import types

    if _active is None or _active.journal is None:
        try:
            return log() if _active is None else _active.call(log, "log the model")
        except TrackingUnavailable as err:
            _active.go_offline(err)
    import mlflow

    journal = _active.journal
    target = journal.path / offline.ARTIFACTS / "model"
    store = journal.path / "local-store"
    store.mkdir(exist_ok=True)
    previous, exported = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{(store / 'mlflow.db').as_posix()}")
    try:
        experiment = mlflow.get_experiment_by_name("offline")
        location = (store / ARTIFACTS_DIR).as_uri()
        experiment_id = (experiment.experiment_id if experiment else
                         mlflow.create_experiment("offline", artifact_location=location))
        with mlflow.start_run(experiment_id=experiment_id, nested=mlflow.active_run() is not None):
            info = log()
        mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(target))
    finally:
        mlflow.set_tracking_uri(previous)
        if exported is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = exported
    return types.SimpleNamespace(model_uri=f"runs:/{journal.run_id}/model", offline_model_uri=info.model_uri)


class RetryingClient:
    """An MlflowClient whose every method is retried like the service's own calls (see `client`)."""

    def __init__(self, cfg: MlflowConfig, uri: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        retry.bound_http_retries(cfg.retry_timeout_s)
        self._cfg, self._uri = cfg, uri or tracking_uri(cfg)
        self._client = MlflowClient(_with_busy_timeout(self._uri, cfg.sqlite_timeout_s))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return _retry(self._cfg, self._uri, lambda: attr(*args, **kwargs), name.replace("_", " "))

        return call


def client(cfg: MlflowConfig, uri: str | None = None) -> RetryingClient:
    """An MLflow client on `uri` (default: the store in force) with the outage retries of this module.

    For the client-API calls outside the active run (nesting, registry, checkpoint mirrors); each
    call retries transient failures for `cfg.retry_timeout_s`, then raises TrackingUnavailable.
    """
    return RetryingClient(cfg, uri)


def offline_run() -> offline.Journal | None:
    """The journal the active run logs to, or None while it is online (or there is no run)."""
    return _active.journal if _active is not None else None


def sync(cfg: MlflowConfig, *, dry_run: bool = False) -> list[offline.Synced]:
    """Upload every run journaled under `cfg.offline_dir` to the store in force (see `offline`).

    Each run is retried as a whole on an outage (its upload is idempotent); runs already synced or
    still running are listed, not touched.
    """
    from mlflow.tracking import MlflowClient

    results = []
    uri = tracking_uri(cfg)
    experiments: dict[str, str] = {}
    for journal in offline.journals(Path(cfg.offline_dir)):
        experiment = journal.info["experiment"]
        if not dry_run and experiment not in experiments:
            experiments[experiment] = connect(cfg.model_copy(update={"experiment": experiment}))
        client = None if dry_run else MlflowClient(_with_busy_timeout(uri, cfg.sqlite_timeout_s))
        upload = functools.partial(offline.sync_one, journal, client, experiments.get(experiment),
                                   dry_run=dry_run)
        results.append(_retry(cfg, uri, upload, f"upload offline run {journal.path.name}"))
    return results
