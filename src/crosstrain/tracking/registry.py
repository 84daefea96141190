"""The register step: put each framework's trained model in the MLflow Model Registry.

One registered model per task, `crosstrain-<task>`. Every run of this step adds one version per
framework, points the alias `<framework>` (`tensorflow`, `pytorch`) at it, and moves `champion` to
the best of the new versions if it reaches `register.min_score`. Load the winner with
`mlflow.pyfunc.load_model("models:/crosstrain-iris@champion")`.

    crosstrain register --task iris
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrain.config import Settings
from crosstrain.errors import CrosstrainError, MissingInputError, TrackingError
from crosstrain.io import atomic_write_json, read_json
from crosstrain.names import (
    TEST_LOG_LOSS,
    CHAMPION_ALIAS,
    TAG_FRAMEWORK,
    TAG_SEED,
    TAG_TASK,
    TRAIN_INFO_FILE,
    registered_model_name,
)
from crosstrain.tracking import service

log = logging.getLogger(__name__)

TRAIN_KEYS = ("task", "framework", "run_id", "model_uri")


@dataclass(frozen=True)
class Candidate:
    """One framework's trained model, checked and ready to register."""

    framework: str
    run_id: str
    model_uri: str
    score: float
    seed: int | None
    log_loss: float = math.inf  # breaks ties in `score`: the better-calibrated model wins


# --- inputs: all read and checked before the registry is touched ---------------------------------


def _load(path: Path, step: str) -> dict[str, Any]:
    """A JSON object from an earlier step's output, or an error saying which step to run."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run {step} first")
    try:
        data = read_json(path)
    except json.JSONDecodeError as err:
        raise CrosstrainError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}); rerun {step}"
        ) from None
    if not isinstance(data, dict):
        raise CrosstrainError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _candidate(task: str, framework: str, model_dir: Path, metric_file: Path, metric: str) -> Candidate:
    train_file = Path(model_dir) / TRAIN_INFO_FILE
    info = _load(train_file, f"the train step for {task}/{framework}")
    for key in TRAIN_KEYS:
        if not isinstance(info.get(key), str) or not info[key]:
            raise CrosstrainError(f"{train_file}: {key!r} is missing or not a string")
    if info["task"] != task:
        raise CrosstrainError(f"{train_file} is for task {info['task']!r}, not {task!r}")
    if info["framework"] != framework:
        raise CrosstrainError(f"{train_file} is for framework {info['framework']!r}, not {framework!r}")

    metrics = _load(metric_file, f"the evaluate step for {task}/{framework}")
    # evaluate also records whose metrics these are: catch a file copied from another task or framework.
    for key, expected in (("task", task), ("framework", framework)):
        if key in metrics and metrics[key] != expected:
            raise CrosstrainError(f"{metric_file} is for {key} {metrics[key]!r}, not {expected!r}")
    if metric not in metrics:
        raise CrosstrainError(f"{metric_file} has no metric {metric!r} (register.metric); rerun evaluate")
    score = metrics[metric]
    # bool is an int subclass; a JSON true is no score.
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise CrosstrainError(f"{metric_file}: {metric!r} is {score!r}, not a finite number")
    seed = info.get("seed")
    log_loss = metrics.get(TEST_LOG_LOSS)
    return Candidate(
        framework,
        info["run_id"],
        info["model_uri"],
        float(score),
        seed if isinstance(seed, int) else None,
        float(log_loss) if isinstance(log_loss, int | float) and math.isfinite(log_loss) else math.inf,
    )


def read_candidates(
    task: str, settings: Settings, model_dirs: dict[str, Path], metric_files: dict[str, Path]
) -> list[Candidate]:
    """Check every framework's train.json and metrics file; ordered as `settings.frameworks` lists them.

    The order matters: a tie for champion goes to the framework listed first.
    """
    if not model_dirs:
        raise CrosstrainError(f"nothing to register for task {task!r}: no trained models given")
    if set(model_dirs) != set(metric_files):
        raise CrosstrainError(
            f"register {task!r}: models for {sorted(model_dirs)} but metrics for {sorted(metric_files)}"
        )
    # Plain strings from here on: they become alias names and JSON keys, whatever enum the caller used.
    model_dirs = {str(fw): Path(path) for fw, path in model_dirs.items()}
    metric_files = {str(fw): Path(path) for fw, path in metric_files.items()}
    listed = [str(fw) for fw in settings.frameworks]
    order = sorted(model_dirs, key=lambda fw: listed.index(fw) if fw in listed else len(listed))
    metric = settings.registry.metric
    return [_candidate(task, fw, model_dirs[fw], metric_files[fw], metric) for fw in order]


def pick_champion(candidates: list[Candidate], min_score: float) -> Candidate | None:
    """The best-scoring candidate that reaches `min_score`.

    On small test sets accuracies tie often; a tie goes to the lower test log-loss, and only a tie in
    both goes to the framework listed first (max keeps the first of equals).
    """
    qualified = [c for c in candidates if c.score >= min_score]
    return max(qualified, key=lambda c: (c.score, -c.log_loss)) if qualified else None


# --- the registry ---------------------------------------------------------------------------------


def _model_id(model_uri: str) -> str | None:
    """The logged-model id in an MLflow 3 `models:/m-...` URI; None for other URIs."""
    rest = model_uri.removeprefix("models:/")
    if rest != model_uri and rest and "/" not in rest and "@" not in rest:
        return rest
    return None


def _ensure_registered_model(client, name: str, task: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    description = (
        f"crosstrain's {task} classifier, trained the same way in TensorFlow and PyTorch. "
        f"Aliases: `tensorflow` and `pytorch` mark each framework's latest version, "
        f"`{CHAMPION_ALIAS}` the best one that reached the minimum score."
    )
    try:
        # Create-and-catch rather than look-then-create: two register steps may race.
        client.create_registered_model(name, tags={TAG_TASK: task}, description=description)
        log.info("created registered model %s", name)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _register_version(client, name: str, task: str, metric: str, candidate: Candidate) -> str:
    """Add one version, tagged, and point the framework's alias at it; returns the version number."""
    tags = {TAG_FRAMEWORK: candidate.framework, TAG_TASK: task, metric: repr(candidate.score)}
    if candidate.seed is not None:
        tags[TAG_SEED] = str(candidate.seed)
    # The client call, not mlflow.register_model: only it records our run_id for a models:/m-... URI
    # (register_model leaves it to the store), and it prints nothing to stderr.
    created = client.create_model_version(
        name=name,
        source=candidate.model_uri,
        run_id=candidate.run_id,
        tags=tags,
        model_id=_model_id(candidate.model_uri),
    )
    version = str(created.version)
    client.set_registered_model_alias(name, candidate.framework, version)
    log.info("registered %s v%s: %s, %s %.4f", name, version, candidate.framework, metric, candidate.score)
    return version


def _champion_entry(champion: Candidate, versions: dict[str, str]) -> dict[str, Any]:
    return {"framework": champion.framework, "version": versions[champion.framework], "score": champion.score}


def register(
    task: str,
    settings: Settings,
    model_dirs: dict[str, Path],
    metric_files: dict[str, Path],
    out_file: Path,
) -> dict:
    """Register each framework's model for `task` and crown the champion; write and return the summary.

    Args:
        task: The task whose models to register.
        settings: The validated params; uses `frameworks`, `registry` (params' `register`) and `mlflow`.
        model_dirs: Framework name -> the train step's output directory (holding train.json).
        metric_files: Framework name -> the evaluate step's metrics JSON.
        out_file: Where to write the summary (registry.json), once registration succeeded.

    Returns:
        `{"model", "metric", "min_score", "versions": {fw: {"version", "run_id", "score"}},
        "champion": {"framework", "version", "score"} or None, "decision"}`.

    Raises:
        MissingInputError: A train.json or metrics file does not exist; nothing is registered.
        CrosstrainError: An input is malformed, lacks the metric or is for another task.
        TrackingError: The tracking server or registry failed.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    candidates = read_candidates(task, settings, model_dirs, metric_files)
    metric, min_score = settings.registry.metric, settings.min_score_for(task)
    name = registered_model_name(task)
    champion = pick_champion(candidates, min_score)

    uri = service.tracking_uri(settings.mlflow)
    service.connect(settings.mlflow)
    try:
        client = MlflowClient()
        _ensure_registered_model(client, name, task)
        versions = {c.framework: _register_version(client, name, task, metric, c) for c in candidates}
        if champion is not None:
            client.set_registered_model_alias(name, CHAMPION_ALIAS, versions[champion.framework])
    except MlflowException as err:
        raise TrackingError(f"MLflow registry at {uri!r} failed for {name}: {err.message}") from None
    except OSError as err:
        raise TrackingError(f"MLflow registry at {uri!r} is unreachable: {err}") from None

    if champion is None:
        best = max(candidates, key=lambda c: c.score)
        decision = (
            f"no champion: the best {metric} is {best.score:.4f} ({best.framework}), below min_score "
            f"{min_score}; the {CHAMPION_ALIAS!r} alias was left as it was"
        )
        log.warning("%s: %s", name, decision)
    else:
        decision = f"{champion.framework} is champion: {metric} {champion.score:.4f} >= {min_score}"
    summary = {
        "model": name,
        "metric": metric,
        "min_score": min_score,
        "versions": {
            c.framework: {"version": versions[c.framework], "run_id": c.run_id, "score": c.score}
            for c in candidates
        },
        "champion": None if champion is None else _champion_entry(champion, versions),
        "decision": decision,
    }
    atomic_write_json(out_file, summary)
    return summary
