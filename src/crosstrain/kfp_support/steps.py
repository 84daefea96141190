"""One function per Kubeflow component: params text and artifact paths in, the library step out.

A component body is `from crosstrain.kfp_support import steps; steps.<step>(...)` plus the lines
that put results into KFP artifact metadata. The work is done by the same functions that
`crosstrain ingest|validate|train|evaluate|register` and `dvc repro` call, so the cluster and the
laptop run the same code. Paths are plain strings, as KFP hands them over.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import yaml
from pydantic import ValidationError

from crosstrain import names, tracking
from crosstrain.config import Framework, Settings, _describe, apply_override
from crosstrain.errors import ConfigError, MissingInputError
from crosstrain.io import read_json
from crosstrain.layout import Layout


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


def ingest(
    params: str, task: str, prepared: str, dvc_repo: str = "", dvc_rev: str = "", expected_digest: str = ""
) -> dict:
    """`crosstrain ingest`: write the task's prepared splits into the directory `prepared`.

    With `dvc_repo` (a git URL or path) the source is not loaded: `data/prepared/<task>` is read at
    `dvc_rev` through dvc.api and its digests checked against meta.json, the revision's dvc.lock and
    `expected_digest` (a DVC md5 or crosstrain's digest; crosstrain.data.versioned).
    """
    settings = load(params)
    task_config = settings.task(task)
    if dvc_repo:
        from crosstrain.data.versioned import read_prepared

        return read_prepared(dvc_repo, dvc_rev, task, Path(prepared), expected_digest)
    from crosstrain.data.ingest import ingest as run

    return run(task, task_config, settings.seed, Path(prepared))


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


def train(params: str, task: str, framework: str, prepared: str, model_dir: str,
          checkpoint_dir: str | None = None) -> list[dict]:
    """`crosstrain train`: train one framework's model once per seed in `seeds`, into `model_dir`/seed-<s>/.

    With `checkpoint_dir` (pod-local scratch), every epoch is checkpointed there and mirrored to the
    seed's MLflow run, and a retried pod resumes from the mirror (crosstrain.training.job.train).
    Returns each seed's train.json, in `seeds` order.
    """
    from crosstrain.training.job import train as run

    checkpoints, settings = (Path(checkpoint_dir) if checkpoint_dir else None), load(params)
    return run(task, settings, Framework(framework), Path(prepared), Path(model_dir),
               checkpoints=checkpoints, mirror=checkpoints is not None,
               tracker=tracking.tracker(settings.mlflow))


def train_distributed(params: str, task: str, framework: str, prepared: str, model_dir: str) -> list[dict]:
    """`train` on `cluster.distributed.workers` nodes: a Trainer TrainJob (crosstrain.kube.launch)."""
    from crosstrain.kube.launch import train as run

    return run(load(params), params, task, framework, Path(prepared), Path(model_dir))


def evaluate(
    params: str, task: str, framework: str, prepared: str, model_dir: str, *, metrics_file: str,
    plots_dir: str,
) -> dict:
    """`crosstrain evaluate`: every seed's test metrics into `metrics_file`, curves etc. into `plots_dir`.

    Returns the metrics file's content (`runs` per seed, `mean` over seeds) plus `confusion`:
    `{"classes", "matrix"}` (rows = actual, summed over seeds), for KFP's confusion matrix.
    """
    from crosstrain.evaluation.evaluate import evaluate as run

    settings = load(params)
    result = run(task, settings, Framework(framework), Path(prepared), Path(model_dir),
                 metrics_file=Path(metrics_file), plots_dir=Path(plots_dir),
                 tracker=tracking.tracker(settings.mlflow))
    return {**result, "confusion": read_json(Path(plots_dir) / "confusion.json")}


def measure(params: str, task: str, framework: str, prepared: str, out_file: str) -> dict:
    """`crosstrain measure`: a short training and inference timed in every mode of `measure.modes`."""
    from crosstrain.perf.modes import measure_modes

    settings = load(params)
    return measure_modes(task, settings, Framework(framework), Path(prepared), Path(out_file),
                         tracker=tracking.tracker(settings.mlflow))


def speed(params: str, task: str, prepared: str, out_file: str) -> dict:
    """`crosstrain speed`: every framework timed `speed.rounds` times, alternately, a fresh process each."""
    from crosstrain.perf.speed import speed as run

    return run(task, load(params), Path(prepared), Path(out_file))


def export(
    params: str, task: str, framework: str, model_dir: str, prepared: str, out_file: str, *, onnx_file: str
) -> dict:
    """`crosstrain export`: the first seed's model (`model_dir`/seed-<seeds[0]>) to ONNX, checked and timed.

    Writes the result JSON to `out_file` and, when exported, the `.onnx` model to `onnx_file`.
    """
    from crosstrain.export.step import export as run

    settings = load(params)
    seed_dir = Path(model_dir) / names.seed_dir(settings.seeds[0])
    return run(task, settings, Framework(framework), seed_dir, Path(prepared), Path(out_file),
               onnx_file=Path(onnx_file), tracker=tracking.tracker(settings.mlflow))


def reference(params: str, task: str, prepared: str, out_file: str) -> dict:
    """`crosstrain reference`: the task's scikit-learn reference, fitted and scored, into `out_file`."""
    from crosstrain.evaluation.reference import reference as run

    settings = load(params)
    return run(task, settings, Path(prepared), Path(out_file), tracker=tracking.tracker(settings.mlflow))


def register(params: str, task: str, metric_files: list[str], out_file: str) -> dict:
    """`crosstrain register`: register every framework's model and run the champion gate.

    Everything (framework, every seed's run) is read from evaluate's metrics files, so the pipeline
    passes them as a plain list; the framework of each is the `framework` inside it.
    """
    from crosstrain.tracking.registry import register as run

    metrics = {read_json(Path(f))["framework"]: Path(f) for f in metric_files if f}
    if not metrics:
        raise MissingInputError(f"register {task!r}: no evaluated model was passed in")
    return run(task, load(params), metrics, Path(out_file))


def gather(
    task: str,
    out_dir: str,
    *,
    metric_files: dict[str, str],
    plots_dirs: dict[str, str],
    modes_files: dict[str, str],
    onnx_files: dict[str, str],
    registry_file: str | None,
    speed_file: str | None = None,
    reference_file: str | None = None,
) -> list[str]:
    """Lay one task's step outputs out under `out_dir` as a crosstrain project does (crosstrain.layout).

    The dicts map framework -> artifact path; an empty or missing path is left out (the report says
    "not measured" for optional inputs); `speed_file` is the task's `crosstrain speed` output and
    `reference_file` its `crosstrain reference` output.
    Returns the files written, relative to `out_dir`.
    """
    layout = Layout(Path(out_dir))
    copies: list[tuple[Path, Path]] = []
    for fw, path in metric_files.items():
        copies.append((Path(path), layout.metrics(task, fw)))
    for fw, path in plots_dirs.items():
        copies.append((Path(path), layout.plots(task, fw)))
    for fw, path in modes_files.items():
        copies.append((Path(path), layout.modes(task, fw)))
    for fw, path in onnx_files.items():
        copies.append((Path(path), layout.onnx(task, fw)))
    if registry_file:
        copies.append((Path(registry_file), layout.registry(task)))
    if speed_file:
        copies.append((Path(speed_file), layout.speed(task)))
    if reference_file:
        copies.append((Path(reference_file), layout.reference(task)))
    written = []
    for src, dst in copies:
        if not src.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)
        written.append(str(dst.relative_to(out_dir)))
    if not written:
        raise MissingInputError(f"gather {task!r}: no step output was passed in")
    return written


def report(params: str, task_dirs: list[str], html: str, markdown: str, comparison: str, curves: str) -> dict:
    """`crosstrain report` over the tasks this run covered: the trees of `gather`, merged into one root.

    Each of `task_dirs` is one task's outputs in the crosstrain layout; they are merged into a
    temporary project root, and the report covers exactly the tasks found there (the run's `tasks`
    parameter may be a subset of params' enabled tasks). Creates the MLflow parent run (every
    training and mode run nested under it), then copies comparison.html, .md, .json and the curves
    directory to `html`, `markdown`, `comparison` and `curves`. Returns comparison.json's content.
    """
    from crosstrain.report.build import build_report

    with tempfile.TemporaryDirectory(prefix="crosstrain-report-") as tmp:
        layout = Layout(Path(tmp))
        for directory in task_dirs:
            if directory and Path(directory).is_dir():
                shutil.copytree(directory, layout.root, dirs_exist_ok=True)
        metrics_root = layout.metrics("task", "framework").parents[1]
        found = sorted(d.name for d in metrics_root.iterdir() if d.is_dir()) if metrics_root.is_dir() else []
        if not found:
            raise MissingInputError("report: no task's outputs were passed in")
        overrides = [f"tasks.{name}.enabled={str(name in found).lower()}" for name in load(params).tasks]
        result = build_report(load(params, overrides), layout, track=True)
        for suffix, target in (("html", html), ("md", markdown), ("json", comparison)):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(layout.report(suffix), target)
        shutil.copytree(layout.curves("task", "framework").parents[1], curves, dirs_exist_ok=True)
    return result
