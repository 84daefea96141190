"""MLflow, behind one small service shared by train, evaluate and register.

The tracking URI is resolved once: `MLFLOW_TRACKING_URI` from the environment wins, otherwise
`mlflow.tracking_uri` from params (default: the embedded store `sqlite:///mlflow.db`). For a local
sqlite store, artifacts go to `mlartifacts/` beside the database, like `mlflow server` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crosstrain.config import MlflowConfig, Settings
from crosstrain.errors import TrackingError
from crosstrain.names import EFFECTIVE_PARAMS_ARTIFACT
from crosstrain.tracking import lineage

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
        raise TrackingError(f"MLflow tracking server {uri!r} is unreachable: {reason}") from None


def connect(cfg: MlflowConfig) -> str:
    """Point MLflow at the store and select (creating if needed) the experiment; returns its id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    # The sqlite store logs every alembic migration at INFO on first use; that's noise for users.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(cfg)
    check_reachable(uri)
    # set_tracking_uri also exports MLFLOW_TRACKING_URI (for subprocesses); undo that, or from now on
    # "the environment's" would always win and a later config (another store, directory) be ignored.
    exported = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if exported is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = exported
    try:
        experiment = mlflow.get_experiment_by_name(cfg.experiment)
        if experiment is None:
            experiment_id = mlflow.create_experiment(
                cfg.experiment, artifact_location=_artifact_location(uri, cfg.experiment)
            )
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
    except MlflowException as err:
        raise TrackingError(f"MLflow tracking at {uri!r} failed: {err.message}") from None
    except OSError as err:
        raise TrackingError(f"MLflow tracking at {uri!r} is unreachable: {err}") from None
    return experiment_id


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit, or None outside a git work tree."""
    return lineage.git_commit(cwd)


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
    """
    import mlflow

    connect(cfg)
    all_tags = {**lineage.tags(settings), **{k: str(v) for k, v in tags.items()}}
    with mlflow.start_run(run_name=run_name, tags=all_tags) as run:
        mlflow.log_params(params)
        if settings is not None:
            mlflow.log_text(lineage.effective_params_yaml(settings), EFFECTIVE_PARAMS_ARTIFACT)
        yield run.info.run_id


@contextlib.contextmanager
def resume_run(cfg: MlflowConfig, run_id: str) -> Iterator[str]:
    """Re-open an existing run (evaluate adds test metrics to the training run)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    connect(cfg)
    try:
        with mlflow.start_run(run_id=run_id) as run:
            yield run.info.run_id
    except MlflowException as err:
        raise TrackingError(
            f"MLflow run {run_id} not found at {tracking_uri(cfg)!r}: {err.message} "
            "(was the model trained against another tracking store?)"
        ) from None


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log metrics to the active run."""
    import mlflow

    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


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
    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-file dataset source twice and warns about the ambiguity, and
        # hints that integer columns cannot hold NaN: neither applies to prepared, validated data.
        warnings.simplefilter("ignore", UserWarning)
        if isinstance(data, pd.DataFrame):
            dataset = mlflow.data.from_pandas(data, source=source, targets="label", name=name, digest=digest)
        else:
            x, y = data
            dataset = mlflow.data.from_numpy(x, source=source, targets=y, name=name, digest=digest)
        mlflow.log_input(dataset, context=context)


def log_artifacts(path: Path, artifact_path: str | None = None) -> None:
    """Upload a file or a directory to the active run."""
    import mlflow

    path = Path(path)
    if path.is_dir():
        mlflow.log_artifacts(str(path), artifact_path=artifact_path)
    else:
        mlflow.log_artifact(str(path), artifact_path=artifact_path)
