"""The `crosstrain` command.

    crosstrain ingest   --task iris
    crosstrain validate --task iris
    crosstrain train    --task iris --framework pytorch --set train.epochs=3
    crosstrain evaluate --task iris --framework pytorch
    crosstrain register --task iris

Expected failures (bad params, missing files, data that fails validation) print one line and exit
non-zero; `--debug` anywhere on the line shows the traceback instead. TensorFlow's, PyTorch's and MLflow's
own start-up lines and warnings are silenced (`crosstrain.quiet`); `--verbose` anywhere shows them.
"""

from __future__ import annotations

# First, before any command can import a framework: silences their start-up lines (or not: --verbose).
import crosstrain.quiet

# isort: split
import sys

import click
import typer

from crosstrain import __version__
from crosstrain.cli import compare as compare_cli
from crosstrain.cli import export as export_cli
from crosstrain.cli import info, measure, pipeline, steps
from crosstrain.cli import report as report_cli
from crosstrain.cli import reproduce as reproduce_cli
from crosstrain.cli import speed as speed_cli
from crosstrain.cli import sync as sync_cli
from crosstrain.errors import CrosstrainError

app = typer.Typer(
    name="crosstrain",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.registered_commands += steps.app.registered_commands
app.command()(info.summary)
app.command()(info.schema)
app.command()(export_cli.export)
app.command()(report_cli.report)
app.command()(compare_cli.compare)
app.command()(measure.measure)
app.command()(speed_cli.speed)
app.command()(reproduce_cli.reproduce)
app.command()(sync_cli.sync)
app.add_typer(pipeline.app, name="pipeline")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crosstrain {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for expected errors too."),
    verbose: bool = typer.Option(False, "--verbose",
                                 help="Show TensorFlow's, PyTorch's and MLflow's own log lines."),
) -> None:
    """TensorFlow or PyTorch, for this task? Train the same model fairly in both and compare.

    Reads params.yaml in the current directory (see `crosstrain schema`). `make run` runs every step
    through `dvc repro`; each step is also a command of its own.
    """
    if verbose:  # main() has already done this; here for callers of `app` itself (CliRunner)
        crosstrain.quiet.verbose()


# typer >= 0.22 vendors click as `typer._click`, whose exceptions are not click's own; older typer
# raises click's. Catch both, so usage errors never escape as tracebacks whichever typer is installed.
_CLICK_ERRORS: tuple[type[click.ClickException], ...] = tuple(
    {click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")}
)
_EXITS: tuple[type[Exception], ...] = tuple({click.exceptions.Exit, typer.Exit})
_ABORTS = tuple({click.exceptions.Abort, typer.Abort})


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (so tests can call it directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if "--verbose" in args:  # before the command runs, so before it imports a framework
        crosstrain.quiet.verbose()
    # Taken out here, so that `--debug` and `--verbose` also work after the command
    # (`crosstrain ingest -t iris --debug`).
    args = [arg for arg in args if arg not in ("--debug", "--verbose")]
    try:
        # Without standalone mode, typer returns the code of a `typer.Exit` (e.g. from --version).
        code = app(args=args, prog_name="crosstrain", standalone_mode=False)
    except _EXITS as done:
        return int(getattr(done, "exit_code", 0))
    except _CLICK_ERRORS as err:
        err.show()
        return err.exit_code
    except _ABORTS:
        typer.echo("crosstrain: interrupted", err=True)
        return 130
    except CrosstrainError as err:
        if debug:
            raise
        typer.echo(f"crosstrain: error: {err}", err=True)
        return err.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
