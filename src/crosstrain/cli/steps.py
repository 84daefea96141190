"""The pipeline steps, one command each: ingest → validate → train → evaluate → register, and reference.

`dvc.yaml` calls exactly these commands; Kubeflow components call the same library functions.
"""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from crosstrain import names, tracking
from crosstrain.cli.options import FrameworkOpt, ParamsOpt, SetOpt, TaskOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.errors import MissingInputError
from crosstrain.io import read_json
from crosstrain.layout import Layout

app = typer.Typer(no_args_is_help=True)
layout = Layout()


@app.command()
def ingest(task: TaskOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Load the task's source into data/raw/<task>/ and a stratified split into data/prepared/<task>/."""
    from crosstrain.data.ingest import ingest as run

    cfg = settings(params, set_)
    # data/raw/<task> keeps what was read (a DVC output of ingest, beside the prepared data).
    meta = run(task, cfg.task(task), cfg.seed, layout.prepared(task), layout.root / "data" / "raw" / task)
    rows = meta["rows"]
    dropped = f" ({meta['duplicates_dropped']} duplicate rows dropped)" if meta["duplicates_dropped"] else ""
    typer.echo(
        f"ingest {task}: {rows['train']} train / {rows['val']} val / {rows['test']} test rows{dropped}, "
        f"{len(meta['classes'])} classes, digest {meta['digest'][:12]} -> {layout.prepared(task)}"
    )


@app.command()
def validate(task: TaskOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Check the prepared data with Great Expectations; fail (and stop the pipeline) on any broken
    expectation."""
    from crosstrain.validation.validate import validate as run

    settings(params, set_).task(task)
    result = run(layout.prepared(task), layout.validation(task))
    typer.echo(
        f"validate {task}: all {result['evaluated']} expectations met; "
        f"Data Docs at {layout.validation(task) / names.DATA_DOCS_DIR / 'index.html'}"
    )


def _require_validated(task: str) -> None:
    path = layout.validation(task) / names.VALIDATION_FILE
    if not path.exists() or not read_json(path).get("success"):
        raise MissingInputError(
            f"{path} shows no passed validation: run `crosstrain validate --task {task}` first")


@app.command()
def train(
    *,
    task: TaskOpt,
    framework: FrameworkOpt,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1,
        help="Local worker processes (overrides train.distributed.workers).")] = None,
    seed: Annotated[list[int] | None, typer.Option(
        "--seed", metavar="N",
        help="Train only this seed (repeatable); default: every seed in params' `seeds`.")] = None,
    resume: Annotated[bool | None, typer.Option(
        "--resume/--no-resume", help="Continue from the last epoch checkpoint (an error if it was made "
        "with other params, data or code) / start over, dropping checkpoints. Default: resume when one "
        "matches.")] = None,
) -> None:
    """Train the task's model in one framework, once per seed, from the shared initial weights and order.

    Each seed is one MLflow run and one model under models/<task>/<framework>/seed-<N>/.
    With several workers this process launches them (torchrun for PyTorch, TF_CONFIG workers for
    TensorFlow); started by a launcher, it is one of the workers.

    Every epoch is checkpointed to checkpoints/<task>/<framework>/; a training interrupted (SIGINT,
    SIGTERM: exit 130, 143) or killed continues from there in the same MLflow run when started again.
    """
    from crosstrain import devices
    from crosstrain.distributed import env, launch

    overrides = [*(set_ or []), *([f"train.distributed.workers={workers}"] if workers else [])]
    cfg = settings(params, overrides)
    cfg.task(task)
    budget = cfg.train_for(task)
    if not env.launched(framework):  # one line now, before any worker starts, if the device is not there
        devices.resolve_here(budget.device, workers=budget.distributed.workers)
    _require_validated(task)
    seeds = list(seed) if seed else None
    if budget.distributed.workers > 1 and not env.launched(framework):
        args = ["train", "--task", task, "--framework", framework.value, "--params", str(params),
                *[part for override in overrides for part in ("--set", override)],
                *[part for s in seeds or [] for part in ("--seed", str(s))],
                *([] if resume is None else ["--resume" if resume else "--no-resume"])]
        signum = launch.run_until_signal(framework, budget.distributed.workers, args, threads=budget.threads)
        if signum is not None:
            typer.echo(f"crosstrain: train {task}/{framework} on {budget.distributed.workers} workers "
                       f"interrupted by {signal.Signals(signum).name}; checkpoint in "
                       f"{layout.checkpoints(task, framework)}, run the same command to resume", err=True)
            raise typer.Exit(128 + signum)
        results = [read_json(layout.model(task, framework) / names.seed_dir(s) / names.TRAIN_INFO_FILE)
                   for s in seeds or cfg.seeds]
    else:
        from crosstrain.training.job import train as run
        from crosstrain.training.loop import Interrupted

        try:
            results = run(task, cfg, framework, layout.prepared(task), layout.model(task, framework), seeds,
                          checkpoints=layout.checkpoints(task, framework), resume=resume,
                          tracker=tracking.tracker(cfg.mlflow, enabled=env.read(framework).is_chief))
        except Interrupted as stopped:
            typer.echo(
                f"crosstrain: train {task}/{framework} interrupted by {signal.Signals(stopped.signum).name} "
                f"after {stopped.epochs} epochs; checkpoint in {layout.checkpoints(task, framework)}, "
                "run the same command to resume", err=True)
            raise typer.Exit(128 + stopped.signum) from None
        if not results or "run_id" not in results[0]:
            return  # a worker other than rank 0: the chief reports
    for result in results:
        workers_note = f" on {result['world_size']} workers" if result.get("world_size", 1) > 1 else ""
        typer.echo(
            f"train {task}/{framework} seed {result['seed']}{workers_note}: {result['epochs']} epochs "
            f"in {result[names.TRAIN_TIME]:.2f}s ({result[names.TRAIN_THROUGHPUT]:.0f} ex/s, "
            f"compile {result[names.COMPILE_TIME]:.2f}s), "
            f"val_accuracy {result['final'][names.VAL_ACCURACY]:.3f}, run {result['run_id']}"
        )


@app.command()
def evaluate(task: TaskOpt, framework: FrameworkOpt, params: ParamsOpt = DEFAULT_PARAMS,
             set_: SetOpt = None) -> None:
    """Score every seed's model on the test split: accuracy, macro-F1, log-loss, confusion, latency, size."""
    from crosstrain.evaluation.evaluate import evaluate as run

    cfg = settings(params, set_)
    cfg.task(task)
    result = run(task, cfg, framework, layout.prepared(task), layout.model(task, framework),
                 metrics_file=layout.metrics(task, framework), plots_dir=layout.plots(task, framework),
                 tracker=tracking.tracker(cfg.mlflow))
    mean = result["mean"]
    typer.echo(
        f"evaluate {task}/{framework}: {len(result['runs'])} seeds, mean test_accuracy "
        f"{mean[names.TEST_ACCURACY]:.3f}, macro-F1 {mean[names.TEST_MACRO_F1]:.3f}, "
        f"p50 latency {mean[names.LATENCY_P50]:.3f} ms"
    )


@app.command()
def reference(task: TaskOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Fit the task's classical reference (scikit-learn) on the same split and score it like the deep models.

    The bar both frameworks should clear: logistic regression on standardised features for tables,
    on the pixels for images, on TF-IDF of word uni/bigrams of the whole texts for text; C picked on
    the val split, the test split scored once with evaluate's metrics and latency timer, on
    `train.threads` threads. Deterministic: one fit, one number, no seeds.

    Writes metrics/<task>/reference.json (the report's reference row and verdict) and one MLflow run
    tagged crosstrain.kind=reference (`crosstrain compare` shows it beside the frameworks).
    Needs the task ingested and validated; `dvc repro` runs it for every task (stage `reference`).

    Example: crosstrain reference --task text && crosstrain report
    """
    from crosstrain.evaluation.reference import reference as run

    cfg = settings(params, set_)
    cfg.task(task)
    _require_validated(task)
    result = run(task, cfg, layout.prepared(task), layout.reference(task),
                 tracker=tracking.tracker(cfg.mlflow))
    typer.echo(
        f"reference {task}: {result['description']}: test_accuracy {result[names.TEST_ACCURACY]:.3f}, "
        f"macro-F1 {result[names.TEST_MACRO_F1]:.3f}, trained in {result[names.TRAIN_TIME]:.2f}s, "
        f"p50 latency {result[names.LATENCY_P50]:.3f} ms -> {layout.reference(task)}"
    )


@app.command()
def register(task: TaskOpt, params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None) -> None:
    """Register every framework's model in the MLflow Model Registry; the gate decides on `champion`."""
    from crosstrain.tracking.registry import register as run

    cfg = settings(params, set_)
    cfg.task(task)
    # The predictions let the gate use the report's own accuracy test (seeds x test examples).
    predictions = {str(fw): layout.plots(task, fw) / names.PREDICTIONS_CSV for fw in cfg.frameworks}
    metrics = {str(fw): layout.metrics(task, fw) for fw in cfg.frameworks}
    result = run(task, cfg, metrics, layout.registry(task), predictions, tracker=tracking.Tracker(cfg.mlflow))
    versions = ", ".join(f"{fw}=v{entry['version']}" for fw, entry in result["versions"].items())
    typer.echo(f"register {task}: {result['model']} versions {versions}; {result['decision']}")
