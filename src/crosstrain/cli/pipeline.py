"""`crosstrain pipeline`: compile, run locally, or submit the Kubeflow pipeline `crosstrain-comparison`.

    crosstrain pipeline compile [--check]     # -> pipelines/compiled/crosstrain-comparison.yaml
    crosstrain pipeline run --local --set train.epochs=1      # kfp.local here, same MLflow store
    crosstrain pipeline submit --host http://localhost:8080 --experiment crosstrain --wait

Params are loaded and validated here (with `--set` applied) before anything is compiled or sent,
so a typo fails on the laptop, not in a pod. The pipeline's steps are components/ over the same
library functions `dvc repro` runs.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Annotated, TextIO

import typer

from crosstrain.cli.options import ParamsOpt, SetOpt, settings
from crosstrain.config import DEFAULT_PARAMS
from crosstrain.errors import CrosstrainError, DataValidationError

app = typer.Typer(no_args_is_help=True, help="Compile, run locally, or submit the Kubeflow pipeline.")

TasksOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--task", "-t", metavar="NAME", help="Run only this task (repeatable); default: enabled tasks."
    ),
]


def _pipeline():
    """pipelines/pipeline.py of this checkout (it sits beside src/, outside the installed package)."""
    try:
        import pipelines.pipeline as module
    except ModuleNotFoundError as err:
        if err.name not in ("pipelines", "pipelines.pipeline", "components"):
            raise
        import crosstrain

        root = Path(crosstrain.__file__).resolve().parents[2]
        if not (root / "pipelines" / "pipeline.py").is_file():
            raise CrosstrainError(
                "pipelines/pipeline.py not found: run this from a crosstrain checkout"
            ) from None
        sys.path.insert(0, str(root))
        import pipelines.pipeline as module
    return module


@app.command("compile")
def compile_(
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Where to write.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the file differs from a fresh compile.")
    ] = False,
) -> None:
    """Compile the pipeline for the params (default file: pipelines/compiled/crosstrain-comparison.yaml)."""
    module = _pipeline()
    cfg = settings(params, set_)
    target = output or module.COMPILED
    if check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = module.compile_to(cfg, Path(tmp) / target.name).read_text()
        if not target.is_file() or target.read_text() != fresh:
            raise CrosstrainError(f"{target} is stale: run `crosstrain pipeline compile` and commit it")
        typer.echo(f"{target} is current")
        return
    typer.echo(f"compiled {module.NAME} -> {module.compile_to(cfg, target)}")


class _Tee(io.TextIOBase):
    """Writes through to `stream` and keeps a copy, to find a failed step's error in kfp.local's output."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def _failure(log: str) -> CrosstrainError | None:
    """The crosstrain error a failed step raised (its message may span lines), from the step's output."""
    # kfp.local indents a step's output; the message's own lines are "  - ..." items.
    match = re.search(r"crosstrain\.errors\.(\w+): (.*(?:\n[ \t]*- .*)*)", log)
    if not match:
        return None
    kind, message = match.groups()
    head, *items = message.splitlines()
    message = "\n".join([head, *(f"  {item.strip()}" for item in items)])
    return (DataValidationError if kind == "DataValidationError" else CrosstrainError)(message)


@app.command()
def run(
    local: Annotated[bool, typer.Option("--local", help="Run with kfp.local in this environment.")] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    task: TasksOpt = None,
    pipeline_root: Annotated[
        Path | None,
        typer.Option("--pipeline-root", metavar="DIR", help="Where artifacts go; default a temp dir."),
    ] = None,
) -> None:
    """Run the whole pipeline with kfp.local's SubprocessRunner, on the same MLflow store as `dvc repro`."""
    if not local:
        raise CrosstrainError(
            "only `--local` runs are supported here; use `crosstrain pipeline submit` for a cluster"
        )
    module = _pipeline()
    cfg = settings(params, set_)
    from kfp import local as kfp_local

    from crosstrain.tracking.store import tracking_uri

    root = pipeline_root or Path(tempfile.mkdtemp(prefix="crosstrain-kfp-"))
    kfp_local.init(
        runner=kfp_local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True
    )
    args = module.arguments(cfg, task, mlflow_tracking_uri=tracking_uri(cfg.mlflow))
    tee = _Tee(sys.stdout)
    with warnings.catch_warnings():
        # The images are not "python" images; here they aren't used anyway (the current environment is).
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*")
        try:
            with contextlib.redirect_stdout(tee):
                module.build(cfg)(**args)
        except RuntimeError as err:
            cause = _failure(tee.copy.getvalue())
            if cause is None:
                raise CrosstrainError(f"local run of {module.NAME} failed: {err}") from None
            raise type(cause)(f"local run of {module.NAME} stopped: {cause}") from None
    typer.echo(
        f"{module.NAME}: all steps succeeded for {', '.join(args['tasks'])}; artifacts in {root}, "
        f"runs in {args['mlflow_tracking_uri']}"
    )


def check_reachable(host: str, timeout: float = 5.0) -> None:
    """Fail fast, naming the URL, when nothing answers at the KFP API's healthz endpoint."""
    url = f"{host.rstrip('/')}/apis/v2beta1/healthz"
    try:
        urllib.request.urlopen(url, timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # it answered (an auth proxy may refuse healthz); the client will say what's wrong
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise CrosstrainError(
            f"Kubeflow Pipelines API at {host!r} is unreachable: {getattr(err, 'reason', err)}"
        ) from None


@app.command()
def submit(
    *,
    host: Annotated[
        str, typer.Option("--host", metavar="URL", help="KFP API endpoint, e.g. http://localhost:8080.")
    ],
    experiment: Annotated[str | None, typer.Option(help="KFP experiment; default mlflow.experiment.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Profile namespace (multi-user Kubeflow).")] = None,
    run_name: Annotated[
        str | None, typer.Option("--run-name", help="Run name; default crosstrain-comparison.")
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    task: TasksOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the run; exit 0 only if it succeeded.")
    ] = False,
    timeout: Annotated[int, typer.Option(help="Seconds --wait waits.")] = 6 * 3600,
) -> None:
    """Compile for the params and start a run on a Kubeflow Pipelines cluster; print its URL."""
    module = _pipeline()
    cfg = settings(params, set_)
    args = module.arguments(cfg, task)
    check_reachable(host)
    import kfp

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # "This client only works with KFP v2.0.0-beta.2 and later"
        package = module.compile_to(cfg, Path(tmp) / f"{module.NAME}.yaml")
        client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments=args,
            run_name=run_name or module.NAME,
            experiment_name=experiment or cfg.mlflow.experiment,
            namespace=namespace,
        )
    typer.echo(f"run: {host.rstrip('/')}/#/runs/details/{result.run_id}")
    if wait:
        state = str(client.wait_for_run_completion(result.run_id, timeout=timeout).state)
        typer.echo(f"run {result.run_id} finished: {state}")
        if state.upper() != "SUCCEEDED":
            raise typer.Exit(1)
