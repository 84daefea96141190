"""Keep the frameworks' start-up log out of crosstrain's output: crosstrain prints its own lines only.

    import crosstrain.quiet  # noqa: F401  (first: before anything imports tensorflow or torch)

    crosstrain --verbose train --task iris --framework tensorflow   # the frameworks log as they would

Importing this module silences, in this process and the ones it starts (speed rounds, workers), which
inherit the environment:

- TensorFlow's C++ log (`TF_CPP_MIN_LOG_LEVEL=3`), e.g. tf.data's "NodeDef mentions attribute
  use_unbounded_threadpool which is not in the op definition" at every dataset. Set with setdefault:
  a level the user exported wins.
- What TensorFlow's shared libraries write to file descriptor 2 while `import tensorflow` runs, before
  that level applies (`TF_CPP_MIN_LOG_LEVEL` cannot reach it): absl's "All log messages before
  absl::InitializeLog() is called are written to STDERR" and oneDNN's banner, once per library, and
  the CPU feature guard and CUDA factory-registration lines on other builds. Only lines matching
  NOISE are dropped; anything else written then (a real error) is passed on after the import.
- PyTorch's warnings while it exports a model for saving (`torch.export`), matched by message.
- MLflow's INFO lines (`MLFLOW_LOGGING_LEVEL=WARNING`, setdefault too), e.g. "Creating initial MLflow
  database tables..." and "Validating input example against model signature"; crosstrain prints
  the run ids itself.

`--verbose` (the CLI calls `verbose()`) undoes all of it and exports CROSSTRAIN_VERBOSE=1, so the
processes crosstrain starts keep the frameworks' own logging too.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, cast

VERBOSE_ENV = "CROSSTRAIN_VERBOSE"
ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # fatal only: TensorFlow's errors reach Python as exceptions
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # not its INFO chatter; its warnings still show
}

# Lines TensorFlow's libraries print while they load (absl's prefix: severity, date, time, thread id).
_ABSL = rb"^[IWE]\d{4} [\d:.]+ +\d+ "
NOISE = tuple(re.compile(pattern) for pattern in (
    rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _ABSL + rb"port\.cc:\d+\] oneDNN custom operations are on",
    _ABSL + rb"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
    rb"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags",
    _ABSL + rb"\w+\.cc:\d+\] Unable to register cu\w+ factory",
    _ABSL + rb"\w+\.cc:\d+\] computation placer already registered",
    _ABSL + rb"cudart_stub\.cc:\d+\] Could not find cuda drivers",
    _ABSL + rb"\w+\.cc:\d+\] TF-TRT Warning: Could not find TensorRT",
))
# PyTorch's warnings from torch.export when a trained model is saved: weights are on the CPU by then,
# and an LSTM's flat weights are plain attributes by design.
WARNINGS = (
    r"No complete tensor found in the group! Returning the first one",
    r"The tensor attributes .* were assigned during export",
)
_QUIET_IMPORTS = ("tensorflow",)

_set_env: list[str] = []  # what silence() set, so verbose() removes only that


def _verbose_requested() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def native_stderr_filtered(noise: Sequence[re.Pattern[bytes]] = NOISE) -> Iterator[None]:
    """Catch what is written to file descriptor 2 (C and C++ code too) and pass on what isn't noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True)
                    if not any(pattern.search(line) for pattern in noise)]
            if kept:
                os.write(2, b"".join(kept))


class _FilteredLoader(importlib.abc.Loader):
    """Runs a package's import under native_stderr_filtered; otherwise the package's own loader."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its real loader (importlib.resources and inspect ask it for files).
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with native_stderr_filtered():
            self.loader.exec_module(module)


class _QuietImports(importlib.abc.MetaPathFinder):
    """Finds `_QUIET_IMPORTS` as the other finders do and wraps their loader in _FilteredLoader."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name not in _QUIET_IMPORTS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _FilteredLoader(spec.loader)
                return spec
        return None


_FINDER = _QuietImports()


def silence() -> None:
    """Quiet the frameworks (see the module docstring), unless CROSSTRAIN_VERBOSE is set; idempotent."""
    if _verbose_requested():
        return
    for key, value in ENV.items():
        if key not in os.environ:
            os.environ[key] = value
            _set_env.append(key)
    for message in WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    if _FINDER not in sys.meta_path and not any(name in sys.modules for name in _QUIET_IMPORTS):
        sys.meta_path.insert(0, _FINDER)


def verbose() -> None:
    """Let the frameworks log normally, here and in the processes crosstrain starts from now on."""
    os.environ[VERBOSE_ENV] = "1"
    while _set_env:
        os.environ.pop(_set_env.pop(), None)
    filters = cast(list, warnings.filters)  # a list at run time; typeshed calls it a Sequence
    filters[:] = [f for f in filters
                  if not (f[0] == "ignore" and f[1] is not None and f[1].pattern in WARNINGS)]
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(_FINDER)


silence()
