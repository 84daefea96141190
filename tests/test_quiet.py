"""crosstrain's commands print crosstrain's lines only; `--verbose` lets the frameworks log again.

The command tests run the installed `crosstrain` console script for real, in a fresh process (the
start-up lines come once per process, while TensorFlow loads), on prepared iris.

.venv/bin/python -m pytest tests/test_quiet.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crosstrain import names, quiet

# What TensorFlow 2.21 prints on stderr at start-up and in tf.data, PyTorch while it exports and MLflow,
# written out here rather than read from crosstrain.quiet, so the test does not grade itself.
BANNERS = re.compile("|".join((
    r"absl::InitializeLog\(\)",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized",
    r"rebuild TensorFlow with the appropriate compiler flags",
    r"Unable to register cu\w+ factory",
    r"NodeDef mentions attribute",
    r"No complete tensor found in the group",
    r"were assigned during export",
    r" INFO mlflow\.",
)))
PARAMS = {"seeds": [0], "train": {"epochs": 1}}
SCRIPT = Path(sys.executable).with_name("crosstrain")  # the venv's, beside this interpreter


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without a log level or verbosity a developer may have exported."""
    unset = ("TF_CPP_MIN_LOG_LEVEL", "MLFLOW_LOGGING_LEVEL", quiet.VERBOSE_ENV)
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return {**env, **extra}


@pytest.fixture
def project(tmp_path: Path, iris_prepared: Path) -> Path:
    """A project with prepared, validated iris and its own sqlite MLflow store."""
    shutil.copytree(iris_prepared, tmp_path / "data" / "prepared" / "iris")
    validation = tmp_path / "reports" / "validation" / "iris"
    validation.mkdir(parents=True)
    (validation / names.VALIDATION_FILE).write_text('{"success": true}')
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    return tmp_path


def _train(project: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = _clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}")
    done = subprocess.run([str(SCRIPT), *flags, "train", "--task", "iris", "--framework", "tensorflow"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_a_tensorflow_training_prints_crosstrain_lines_only(project: Path) -> None:
    # given: a project, and no log level in the environment
    # when: crosstrain trains the TensorFlow model, in a process of its own
    done = _train(project)

    # then: stderr is crosstrain's progress, none of TensorFlow's banners or tf.data's errors
    assert not BANNERS.search(done.stderr), done.stderr
    assert all(line.startswith("train iris/tensorflow seed 0: ") for line in done.stderr.splitlines()), \
        done.stderr
    assert "train iris/tensorflow seed 0: 1 epochs" in done.stdout


@pytest.mark.slow
def test_verbose_lets_tensorflow_log_at_start_up(project: Path) -> None:
    # given: the same project
    # when: the same training runs with --verbose
    done = _train(project, "--verbose")

    # then: TensorFlow's own start-up lines come through, with crosstrain's
    assert BANNERS.search(done.stderr), done.stderr
    assert "train iris/tensorflow seed 0: epoch 1/1" in done.stderr


PROBE = ("import os, sys, warnings; from crosstrain.cli.main import main; main(sys.argv[1:]); "
         "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), os.environ.get('CROSSTRAIN_VERBOSE')); "
         "warnings.warn('No complete tensor found in the group! Returning the first one.')")  # torch.export's


@pytest.mark.parametrize(("flags", "exported", "expected"), [
    ([], {}, "3 None"),                                # quiet: what the processes it starts inherit
    (["--verbose"], {}, "None 1"),                     # verbose: nothing of quiet's left to inherit
    ([], {"TF_CPP_MIN_LOG_LEVEL": "1"}, "1 None"),     # a level the user exported wins ...
    (["--verbose"], {"TF_CPP_MIN_LOG_LEVEL": "1"}, "1 1"),  # ... and --verbose leaves it be
])
def test_the_environment_crosstrain_passes_to_its_subprocesses(flags: list[str], exported: dict[str, str],
                                                               expected: str) -> None:
    # given: the CLI entry, run as a new process's first import (as a worker or speed round is)
    # when: a command that loads no framework runs, with or without --verbose
    done = subprocess.run([sys.executable, "-c", PROBE, *flags, "--version"], env=_clean_env(**exported),
                          capture_output=True, text=True, timeout=60)

    # then: the environment left for child processes is quiet's, or the user's, or verbose; and
    # PyTorch's export warning is shown with --verbose only
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == expected
    assert ("No complete tensor found" in done.stderr) == ("--verbose" in flags), done.stderr


def test_only_the_known_noise_written_to_the_descriptor_is_dropped(capfd: pytest.CaptureFixture[str]) -> None:
    # given: what C++ code writes straight to file descriptor 2: absl's banner and a real error
    banner = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    oneDNN = (b"I0000 00:00:1796235152.443356    4560 port.cc:153] oneDNN custom operations are on. "
              b"You may see slightly different numerical results\n")
    real = b"E0000 00:00:1796235152.443356    4560 loader.cc:1] could not load libfoo.so\n"

    # when: it is written while the filter is on
    with quiet.native_stderr_filtered():
        os.write(2, banner + oneDNN + real)

    # then: the real error comes through, the banners do not
    assert capfd.readouterr().err == real.decode()
