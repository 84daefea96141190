"""The tracker: one object per store that starts, resumes and logs runs, every call retried.

    tracker = tracking.tracker(settings.mlflow, enabled=world.is_chief)   # at the edge (CLI, component)
    with tracker.start_run(run_name="iris-pytorch-seed0", tags=tags, params=params) as run_id:
        tracker.log_metrics({"val/accuracy": 0.9}, step=0)

Outages: every MLflow call here retries transient failures with exponential backoff for
`mlflow.retry_timeout_s` (`crosstrain.tracking.retry`), then fails the step with a TrackingError
naming the tracking URI, or, with `mlflow.offline_fallback` on, journals the run locally
(`crosstrain.tracking.offline`) for `crosstrain sync` to upload later. A run that loses the server
midway keeps its id: the rest of it is journaled and sync appends it to that run.

Parallel runs: `dvc exp run --queue` + `dvc queue start -j N`, separate clones or worktrees and
`crosstrain train` called directly may share one sqlite store or server (`crosstrain.tracking.store`);
two `dvc repro` in one repository may not (DVC's repo lock). Runs are logged through MLflow's fluent
API (a framework's `log_model` logs to its active run): one active run per process at a time.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from crosstrain.config import MlflowConfig, Settings
from crosstrain.errors import TrackingError
from crosstrain.names import EFFECTIVE_PARAMS_ARTIFACT
from crosstrain.tracking import client as clients
from crosstrain.tracking import lineage, offline, retry, runlog, store
from crosstrain.tracking.retry import TrackingUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Active:
    """The run a tracker logs to: online (MLflow's active run) or journaled (an offline.Journal)."""

    def __init__(self, tracker: Tracker, run_id: str, experiment_id: str | None = None,
                 journal: offline.Journal | None = None) -> None:
        self.tracker, self.run_id, self.experiment_id, self.journal = tracker, run_id, experiment_id, journal

    def go_offline(self, err: TrackingUnavailable) -> offline.Journal:
        """Journal the rest of this run (it keeps its MLflow id: sync appends to it)."""
        cfg = self.tracker.cfg
        if not cfg.offline_fallback:
            raise err
        log.warning("%s; journaling the rest of run %s offline (crosstrain sync uploads it)",
                    err, self.run_id)
        self.journal = offline.Journal.create(Path(cfg.offline_dir), experiment=cfg.experiment,
                                              tracking_uri=self.tracker.uri, remote_run_id=self.run_id)
        return self.journal


def _end_status(exc: BaseException | None) -> str:
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "FAILED"


class Tracker:
    """MLflow tracking against one store: the resolved URI, its config and the run being logged.

    Args:
        cfg: params' `mlflow` section (experiment, retries, offline fallback, sqlite timeout).
        uri: The store to use; default: `MLFLOW_TRACKING_URI`, else `cfg.tracking_uri`.

    Raises:
        TrackingError: The URI names a local file that is no MLflow store (checked here, at the edge,
            before anything is computed or written).
    """

    def __init__(self, cfg: MlflowConfig, uri: str | None = None) -> None:
        self.cfg = cfg
        self.uri = store.absolute_sqlite(uri) if uri else store.tracking_uri(cfg)
        store.check_store(self.uri)
        self._active: _Active | None = None

    def call(self, fn: Callable[[], T], what: str) -> T:
        """`fn()` retried like every call of this tracker."""
        return clients.call(self.cfg, self.uri, fn, what)

    def client(self) -> clients.RetryingClient:
        """An MlflowClient on this store whose every method is retried (for calls outside the run)."""
        return clients.RetryingClient(self.cfg, self.uri)

    def experiment_id(self) -> str:
        """Point MLflow at the store and select (creating if needed) the experiment; returns its id.

        Retries an unreachable store for `cfg.retry_timeout_s`; then raises TrackingUnavailable.
        """
        import mlflow

        cfg, uri = self.cfg, self.uri
        # A new sqlite store logs its table creation and every alembic migration at INFO; noise for users.
        for noisy in ("alembic", "mlflow.store.db.utils"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        retry.bound_http_retries(cfg.retry_timeout_s)
        self.call(lambda: store.check_reachable(uri), "reach the server")
        # set_tracking_uri also exports MLFLOW_TRACKING_URI (for subprocesses); undo that, or from now
        # on "the environment's" would always win and a later config (another store) be ignored.
        with runlog.environment_kept():
            mlflow.set_tracking_uri(store.with_busy_timeout(uri, cfg.sqlite_timeout_s))

        try:
            with store.store_lock(uri):
                return self.call(lambda: store.select_experiment(cfg.experiment, uri),
                                 f"select experiment {cfg.experiment!r}")
        except OSError as err:
            raise TrackingError(f"MLflow tracking at {uri!r} is unreachable: {err}") from None

    @property
    def run_id(self) -> str | None:
        """The id of the run being logged (an `offline-...` one while journaled from the start)."""
        return self._active.run_id if self._active is not None else None

    @property
    def journal(self) -> offline.Journal | None:
        """The journal the active run logs to, or None while it is online (or there is no run)."""
        return self._active.journal if self._active is not None else None

    @contextlib.contextmanager
    def _activate(self, active: _Active) -> Iterator[str]:
        """Make `active` the run log_* calls go to; end it (online and/or in its journal) on exit."""
        import mlflow

        previous, self._active = self._active, active
        exc: BaseException | None = None
        try:
            yield active.run_id
        except BaseException as err:
            exc = err
            raise
        finally:
            self._active = previous
            status = _end_status(exc)
            if active.journal is not None:
                active.journal.end(status)
                # Pop MLflow's active run without waiting on the server: the journal carries the status.
                if mlflow.active_run() is not None:
                    with contextlib.suppress(Exception):
                        mlflow.end_run(status)
            elif mlflow.active_run() is not None:
                self._end_online(active, status, exc)

    def _end_online(self, active: _Active, status: str, exc: BaseException | None) -> None:
        """Mark the online run ended; never hides the exception that ended it."""
        import mlflow

        if isinstance(exc, TrackingUnavailable):  # the server is known to be down: one try, no waiting
            with contextlib.suppress(Exception):
                mlflow.end_run(status)
            return
        try:
            self.call(lambda: mlflow.end_run(status), "end the run")
        except TrackingUnavailable as err:
            # MLflow popped the run before asking the server; with the fallback, sync sets the status.
            if self.cfg.offline_fallback:
                active.go_offline(err).end(status)
            elif exc is None:
                raise
            else:
                log.warning("%s (run %s stays RUNNING there)", err, active.run_id)

    @contextlib.contextmanager
    def start_run(self, *, run_name: str, tags: Mapping[str, Any], params: Mapping[str, Any],
                  settings: Settings | None = None) -> Iterator[str]:
        """A new MLflow run with tags and params logged; yields its id and ends it FAILED on error.

        Every run gets the lineage tags (git commit and dirty flag, library versions; see
        `crosstrain.tracking.lineage`). Given the run's `settings`, it also gets their hash
        (TAG_PARAMS_HASH) and the effective params file (EFFECTIVE_PARAMS_ARTIFACT), which
        `crosstrain reproduce` restores. The caller's `tags` win over the lineage ones.
        With the store unreachable and `cfg.offline_fallback` on, the run is journaled and its id is
        the journal's (`offline-...`).
        """
        import mlflow

        cfg = self.cfg
        all_tags = {**lineage.tags(settings), **{k: str(v) for k, v in tags.items()}}
        values = {k: str(v) for k, v in params.items()}
        text = lineage.effective_params_yaml(settings) if settings is not None else None
        try:
            self.experiment_id()
            run = self.call(lambda: mlflow.start_run(run_name=run_name, tags=all_tags), "start a run")
        except TrackingUnavailable as err:
            if not cfg.offline_fallback:
                raise
            log.warning("%s; journaling run %r offline (crosstrain sync uploads it)", err, run_name)
            journal = offline.Journal.create(Path(cfg.offline_dir), experiment=cfg.experiment,
                                             tracking_uri=self.uri, run_name=run_name, tags=all_tags,
                                             params=values)
            if text is not None:
                journal.log_text(text, EFFECTIVE_PARAMS_ARTIFACT)
            with self._activate(_Active(self, journal.run_id, journal=journal)) as run_id:
                yield run_id
            return
        active = _Active(self, run.info.run_id, run.info.experiment_id)
        with self._activate(active) as run_id:
            try:
                self.call(lambda: mlflow.log_params(values), "log params")
                if text is not None:
                    self.call(lambda: mlflow.log_text(text, EFFECTIVE_PARAMS_ARTIFACT),
                              "log effective params")
            except TrackingUnavailable as err:
                journal = active.go_offline(err)
                journal.log_params(values)
                if text is not None:
                    journal.log_text(text, EFFECTIVE_PARAMS_ARTIFACT)
            yield run_id

    @contextlib.contextmanager
    def resume_run(self, run_id: str) -> Iterator[str]:
        """Re-open an existing run (evaluate adds test metrics to the training run); yields its id.

        A journaled run (`offline-...`) is re-opened in its journal, or, once synced, online under the
        id sync gave it (yielded); with the store unreachable and the fallback on, what is logged is
        journaled for `crosstrain sync` to append to `run_id`.
        """
        import mlflow

        if offline.is_offline_id(run_id):
            journal = offline.Journal.open(Path(self.cfg.offline_dir), run_id)
            if not journal.info["synced"]:
                with self._activate(_Active(self, run_id, journal=journal)):
                    yield run_id
                return
            run_id = journal.run_id  # uploaded by `crosstrain sync`: re-open it where it now is
        active = _Active(self, run_id)
        try:
            self.experiment_id()
            run = self.call(lambda: mlflow.start_run(run_id=run_id), f"re-open run {run_id}")
            active.experiment_id = run.info.experiment_id
        except TrackingUnavailable as err:
            active.go_offline(err)
        except TrackingError as err:
            raise TrackingError(f"{err} (was the model trained against another tracking store?)") from None
        with self._activate(active):
            yield run_id

    def _log(self, what: str, online: runlog.Online, journaled: runlog.Journaled) -> None:
        """Send one logging call to the active run: retried online, else (or once offline) to the journal."""
        active = self._active
        if active is None:
            online()  # no run of ours: MLflow's own active run (or its error), as before
            return
        if active.journal is None:
            try:
                self.call(online, what)
                return
            except TrackingUnavailable as err:
                active.go_offline(err)
        assert active.journal is not None
        journaled(active.journal)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics to the active run (timestamped now, so a retried or synced point keeps its time)."""
        self._log("log metrics", *runlog.metrics(metrics, step))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags on the active run (a tag known only after the run began, e.g. the fairness digest)."""
        self._log("set tags", *runlog.tags(tags))

    def log_dataset(self, data: Any, *, name: str, source: str, digest: str,
                    context: str = "training") -> None:
        """Record the prepared data as the run's dataset input, with its DVC hash as the digest.

        `data` is a DataFrame with a `label` column (tables, texts) or an (x, y) pair of arrays
        (images). `digest` is the DVC md5 of the prepared directory ("<32 hex>.dir", 36 characters:
        what MLflow's dataset digest holds); a longer one is cut to 36 here and kept whole in
        TAG_DATA_DIGEST by the caller.
        """
        self._log("log the dataset", *runlog.dataset(data, name=name, source=source, digest=digest,
                                                      context=context))

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        """Upload a file or a directory to the active run."""
        self._log(f"upload {Path(path).name}", *runlog.artifacts(Path(path), artifact_path))

    def log_model(self, log_fn: Callable[[], Any]) -> Any:
        """Log a model to the active run with `log_fn()` (a framework's `log_model`); returns its ModelInfo.

        Online, `log_fn` is retried like any call. Journaled, it logs into a throwaway local store
        inside the journal, and the model's files are kept as the journal's `model/` artifacts: the
        returned info's `model_uri` is then `runs:/<run id>/model`, valid once `crosstrain sync` has
        uploaded it.
        """
        active = self._active
        if active is None:
            return log_fn()
        if active.journal is None:
            try:
                return self.call(log_fn, "log the model")
            except TrackingUnavailable as err:
                active.go_offline(err)
        assert active.journal is not None
        return runlog.journal_model(active.journal, log_fn)

    def search_runs(self, filter_string: str, *, order_by: list[str] | None = None,
                    max_results: int = 1000) -> list[Any]:
        """Runs of the active run's experiment (else the tracker's) matching `filter_string`, retried.

        Empty while the active run is journaled: the store is known to be unreachable.
        """
        active = self._active
        if active is not None and active.journal is not None:
            return []
        experiment = active.experiment_id if active is not None and active.experiment_id else None
        experiment = experiment or self.experiment_id()
        return list(self.client().search_runs([experiment], filter_string=filter_string,
                                              order_by=order_by or [], max_results=max_results))

    def sync(self, *, dry_run: bool = False) -> list[offline.Synced]:
        """Upload every run journaled under `cfg.offline_dir` to this store (see `offline`).

        Each run is retried as a whole on an outage (its upload is idempotent, so its client has no
        retries of its own); runs already synced or still running are listed, not touched.
        """
        from mlflow.tracking import MlflowClient

        results = []
        experiments: dict[str, str] = {}
        for journal in offline.journals(Path(self.cfg.offline_dir)):
            experiment = journal.info["experiment"]
            if not dry_run and experiment not in experiments:
                other = Tracker(self.cfg.model_copy(update={"experiment": experiment}), self.uri)
                experiments[experiment] = other.experiment_id()
            client = None if dry_run else MlflowClient(
                store.with_busy_timeout(self.uri, self.cfg.sqlite_timeout_s))
            upload = functools.partial(offline.sync_one, journal, client, experiments.get(experiment),
                                       dry_run=dry_run)
            results.append(self.call(upload, f"upload offline run {journal.path.name}"))
        return results
