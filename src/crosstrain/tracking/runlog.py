"""What each of a tracker's log calls does online (MLflow's fluent API) and journaled (offline.Journal).

Each function returns the pair `(online, journaled)` that `Tracker._log` sends to the active run:
retried online, else (or once the server is lost) into the run's journal. The values are converted
and timestamped once, here, so a retried or synced point is the very point first logged.
"""

from __future__ import annotations

import contextlib
import os
import time
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from crosstrain.tracking import offline, store

DATASET_DIGEST_MAX = 36  # MLflow's column for a dataset digest
Online = Callable[[], object]
Journaled = Callable[[offline.Journal], None]


def metrics(values: Mapping[str, float], step: int | None) -> tuple[Online, Journaled]:
    """Metrics at `step`, timestamped now."""
    import mlflow

    floats = {k: float(v) for k, v in values.items()}
    timestamp = int(time.time() * 1000)
    return (lambda: mlflow.log_metrics(floats, step=step, timestamp=timestamp),
            lambda journal: journal.log_metrics(floats, step=step or 0, timestamp=timestamp))


def tags(values: Mapping[str, Any]) -> tuple[Online, Journaled]:
    """Tags, as strings."""
    import mlflow

    strings = {k: str(v) for k, v in values.items()}
    return lambda: mlflow.set_tags(strings), lambda journal: journal.set_tags(strings)


def dataset(data: Any, *, name: str, source: str, digest: str, context: str) -> tuple[Online, Journaled]:
    """The prepared data as a dataset input (see `Tracker.log_dataset`)."""
    import mlflow
    import pandas as pd
    from mlflow.data.dataset import Dataset
    from mlflow.data.numpy_dataset import from_numpy
    from mlflow.data.pandas_dataset import from_pandas

    digest = digest[:DATASET_DIGEST_MAX]

    def online() -> None:
        with warnings.catch_warnings():
            # MLflow 3.17 registers its local-file dataset source twice and warns about the ambiguity,
            # and hints that integer columns cannot hold NaN: neither applies to prepared, validated data.
            warnings.simplefilter("ignore", UserWarning)
            found: Dataset
            if isinstance(data, pd.DataFrame):
                found = from_pandas(data, source=source, targets="label", name=name, digest=digest)
            else:
                x, y = data
                found = from_numpy(x, source=source, targets=y, name=name, digest=digest)
            mlflow.log_input(found, context=context)

    return online, lambda journal: journal.log_input(name=name, source=source, digest=digest, context=context)


def artifacts(path: Path, artifact_path: str | None) -> tuple[Online, Journaled]:
    """A file or a directory, uploaded under `artifact_path`."""
    import mlflow

    def online() -> None:
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_path)

    return online, lambda journal: journal.log_artifacts(path, artifact_path)


@contextlib.contextmanager
def environment_kept() -> Iterator[None]:
    """Put MLFLOW_TRACKING_URI back as it was (mlflow.set_tracking_uri exports it for subprocesses)."""
    exported = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield
    finally:
        if exported is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = exported


def journal_model(journal: offline.Journal, log_fn: Callable[[], Any]) -> Any:
    """Log a model while journaled: into a throwaway store in the journal, its files kept as `model/`.

    Returns an info whose `model_uri` is `runs:/<run id>/model`, valid once `crosstrain sync` ran.
    """
    import mlflow

    target = journal.path / offline.ARTIFACTS / "model"
    local = journal.path / "local-store"
    local.mkdir(exist_ok=True)
    previous = mlflow.get_tracking_uri()
    with environment_kept():
        mlflow.set_tracking_uri(f"sqlite:///{(local / 'mlflow.db').as_posix()}")
        try:
            experiment = mlflow.get_experiment_by_name("offline")
            location = (local / store.ARTIFACTS_DIR).as_uri()
            experiment_id = (experiment.experiment_id if experiment else
                             mlflow.create_experiment("offline", artifact_location=location))
            with mlflow.start_run(experiment_id=experiment_id, nested=mlflow.active_run() is not None):
                info = log_fn()
            mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(target))
        finally:
            mlflow.set_tracking_uri(previous)
    return types.SimpleNamespace(model_uri=f"runs:/{journal.run_id}/model", offline_model_uri=info.model_uri)
