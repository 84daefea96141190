"""One function per Kubeflow component: params text and artifact paths in, the library step out.

A component body is `from crosstrain.kfp_support import steps; steps.<step>(...)` plus the lines
that put results into KFP artifact metadata. The work is done by the same functions that
`crosstrain ingest|validate|train|evaluate|register` and `dvc repro` call, so the cluster and the
laptop run the same code. Paths are plain strings, as KFP hands them over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from pydantic import ValidationError

from crosstrain import names
from crosstrain.config import Settings, _describe, apply_override
from crosstrain.errors import ConfigError, MissingInputError
from crosstrain.io import read_json


def load(
    params: str, overrides: list[str] | tuple[str, ...] = (), source: str = "pipeline params"
) -> Settings:
    """Validate the params YAML text a pipeline carries (plus `key=value` overrides) into Settings."""
    try:
        data = yaml.safe_load(params) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    for override in overrides:
        apply_override(data, override)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, data)) from None


def dump(settings: Settings) -> str:
    """The params text of `settings`, as the pipeline's `params` parameter carries it.

    JSON, which is YAML on one line: kfp copies a default into a `#` comment at the top of the
    compiled file, and a multi-line default would leave its later lines uncommented (invalid YAML).
    """
    return json.dumps(settings.model_dump(mode="json", by_alias=True))


def configure(params: str, seed: int, epochs: int, mlflow_tracking_uri: str, mlflow_experiment: str) -> str:
    """Apply the pipeline's typed parameters to the params text, validate, and return the result.

    An empty `mlflow_tracking_uri` or `mlflow_experiment` keeps the value in `params`.
    """
    overrides = [f"seed={seed}", f"train.epochs={epochs}"]
    overrides += [f"mlflow.tracking_uri={mlflow_tracking_uri}"] if mlflow_tracking_uri else []
    overrides += [f"mlflow.experiment={mlflow_experiment}"] if mlflow_experiment else []
    return dump(load(params, overrides))


def ingest(params: str, task: str, prepared: str) -> dict:
    """`crosstrain ingest`: write the task's prepared splits into the directory `prepared`."""
    from crosstrain.data.ingest import ingest as run

    settings = load(params)
    return run(task, settings.task(task), settings.seed, Path(prepared))


def validate(prepared: str, report_dir: str, data_docs_html: str) -> dict:
    """`crosstrain validate`: raise DataValidationError on a failed expectation, else write the report.

    `report_dir` receives validation.json and the whole Data Docs site; `data_docs_html` a copy of
    its index page (what the KFP UI shows for an HTML artifact).
    """
    from crosstrain.validation.validate import validate as run

    summary = run(Path(prepared), Path(report_dir))
    Path(data_docs_html).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(report_dir) / names.DATA_DOCS_DIR / "index.html", data_docs_html)
    return summary


def train(params: str, task: str, framework: str, prepared: str, model_dir: str) -> dict:
    """`crosstrain train`: train one framework's model into the directory `model_dir`."""
    from crosstrain.training.step import train as run

    return run(task, load(params), framework, Path(prepared), Path(model_dir))


def train_distributed(params: str, task: str, framework: str, prepared: str, model_dir: str) -> dict:
    """`train` on `cluster.distributed.workers` nodes: a Trainer TrainJob (crosstrain.kube.launch)."""
    from crosstrain.kube.launch import train as run

    return run(load(params), params, task, framework, Path(prepared), Path(model_dir))


def evaluate(
    params: str, task: str, framework: str, prepared: str, model_dir: str, metrics_file: str, plots_dir: str
) -> dict:
    """`crosstrain evaluate`: test metrics into `metrics_file` (JSON), curves and confusion into `plots_dir`.

    Returns the metrics plus `confusion`: `{"classes", "matrix"}` (rows = actual), for KFP's confusion matrix.
    """
    from crosstrain.evaluation.evaluate import evaluate as run

    result = run(
        task, load(params), framework, Path(prepared), Path(model_dir), Path(metrics_file), Path(plots_dir)
    )
    return {**result, "confusion": read_json(Path(plots_dir) / "confusion.json")}


def register(params: str, task: str, model_dirs: list[str], metric_files: list[str], out_file: str) -> dict:
    """`crosstrain register`: register every framework's model and crown the champion.

    The framework of each model and metrics file is read from the files themselves (train.json and
    the metrics JSON), so the pipeline can pass them as plain lists.
    """
    from crosstrain.tracking.registry import register as run

    models = {read_json(Path(d) / names.TRAIN_INFO_FILE)["framework"]: Path(d) for d in model_dirs if d}
    metrics = {read_json(Path(f))["framework"]: Path(f) for f in metric_files if f}
    if not models:
        raise MissingInputError(f"register {task!r}: no trained model was passed in")
    return run(task, load(params), models, metrics, Path(out_file))
