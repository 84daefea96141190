"""Options every step shares, defined once so `--help` reads the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosstrain.config import DEFAULT_PARAMS, Framework, Settings, load_settings

TaskOpt = Annotated[str, typer.Option(
    "--task", "-t", metavar="NAME", help="Task to run, a key of `tasks` in params (e.g. iris).")]
FrameworkOpt = Annotated[
    Framework, typer.Option("--framework", "-f", help="Which framework's model to train or evaluate.")
]
ParamsOpt = Annotated[
    Path, typer.Option("--params", "-p", metavar="FILE", help="Params file to read.", dir_okay=False,
                       show_default=True)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-S",
        metavar="KEY.PATH=VALUE",
        help="Override a param, e.g. --set train.epochs=3 (repeatable; the value is YAML, as in "
        "`dvc exp run -S`).",
    ),
]


def settings(params: Path = DEFAULT_PARAMS, overrides: list[str] | None = None) -> Settings:
    """Load and validate params once per command."""
    return load_settings(params, overrides or [])
