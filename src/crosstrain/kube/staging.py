"""Files a TrainJob's pods need, and the model they return, staged through MLflow's artifact store.

The pipeline's artifacts live in KFP's object store, which the TrainJob pods cannot read. The
launcher (crosstrain.kube.launch) therefore copies the params and the prepared data under
`<MLflow server>/api/2.0/mlflow-artifacts/artifacts/trainjobs/<job>/`, the pods fetch them
(crosstrain.kube.node), worker 0 puts the trained model back, and the launcher fetches it into the
step's output. MLflow's artifact proxy needs no object-store client in the images, only the MLflow
credentials every training pod already has. A local directory works the same (tests).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from crosstrain import names
from crosstrain.errors import ConfigError, MissingInputError
from crosstrain.io import atomic_write_json
from crosstrain.layout import Layout
from crosstrain.tracking.client import Retrying, artifact_repository

STAGING_ROOT = "trainjobs"
PARAMS_FILE = "params.yaml"
PREPARED, MODEL = "prepared", "model"


def stage_uri(tracking_uri: str, job: str) -> str:
    """Where one TrainJob's files are staged: under the MLflow server's artifact proxy."""
    if not tracking_uri.startswith(("http://", "https://")):
        raise ConfigError(
            "distributed training stages files through an MLflow server; "
            f"mlflow.tracking_uri is {tracking_uri!r}"
        )
    return f"{tracking_uri.rstrip('/')}/api/2.0/mlflow-artifacts/artifacts/{STAGING_ROOT}/{job}"


def _repo(stage: str) -> Retrying:
    """The staging area's artifact repository, every call retried (`crosstrain.tracking.client`)."""
    return artifact_repository(stage)


def put_inputs(stage: str, params: str, prepared: Path) -> None:
    """Upload the params text and the prepared data directory (launcher side)."""
    repo = _repo(stage)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / PARAMS_FILE).write_text(params)
        repo.log_artifact(str(Path(tmp) / PARAMS_FILE))
    repo.log_artifacts(str(prepared), PREPARED)


def get_inputs(stage: str, workdir: Path, task: str) -> Layout:
    """Lay the staged inputs out as a crosstrain project in `workdir` (pod side), so `crosstrain train` runs.

    The pipeline's validate step passed before the launcher started (train runs after validate), so
    the validation record `crosstrain train` checks for is written here, saying where it came from.
    """
    layout = Layout(Path(workdir))
    repo = _repo(stage)
    repo.download_artifacts(PARAMS_FILE, str(workdir))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        repo.download_artifacts(PREPARED, tmp)
        target = layout.prepared(task)
        target.parent.mkdir(parents=True, exist_ok=True)
        (Path(tmp) / PREPARED).rename(target)
    atomic_write_json(
        layout.validation(task) / names.VALIDATION_FILE,
        {"success": True, "source": "the Kubeflow pipeline's validate step"},
    )
    return layout


def put_model(stage: str, model_dir: Path) -> None:
    """Upload the trained model directory (worker 0)."""
    _repo(stage).log_artifacts(str(model_dir), MODEL)


def get_model(stage: str, model_dir: Path) -> None:
    """Download the trained model into `model_dir` (launcher side; the step's output artifact)."""
    repo = _repo(stage)
    if not repo.list_artifacts(MODEL):
        raise MissingInputError(f"{stage}: the TrainJob finished but worker 0 staged no model")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo.download_artifacts(MODEL, tmp)
        for item in (Path(tmp) / MODEL).iterdir():
            shutil.move(str(item), str(model_dir / item.name))


def remove(stage: str) -> None:
    """Delete everything staged for one TrainJob."""
    _repo(stage).delete_artifacts()
