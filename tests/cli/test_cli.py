"""The `crosstrain` command on bad input: one clear error line, a non-zero exit, no traceback, no output.

Each test runs `crosstrain.cli.main.main([...])` in-process, in an empty project directory
(tmp_path) holding only the params.yaml and raw files it writes; one test runs the installed
console script for real.

.venv/bin/python -m pytest tests/cli -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_iris

from crosstrain import __version__
from crosstrain.cli.main import main
from crosstrain.errors import ConfigError, SourceError
from crosstrain.names import META_FILE, SPLITS

STEPS = ("ingest", "validate", "train", "evaluate", "register")
# A closed port on loopback: refused at once, and nothing leaves the machine.
UNREACHABLE_URL = "http://127.0.0.1:9/nope.csv"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, made the working directory (the CLI resolves paths from it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _iris() -> pd.DataFrame:
    """Real iris with its class names in a `species` column."""
    bunch = load_iris(as_frame=True)
    return bunch.data.assign(species=[str(bunch.target_names[i]) for i in bunch.target])


def _raw(project: Path, frame: pd.DataFrame, name: str = "iris.csv") -> str:
    """Write `frame` as CSV under data/raw/ and return its path relative to the project."""
    path = project / "data" / "raw" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return str(path.relative_to(project))


def _params(project: Path, path: str, label_column: str = "species", **extra) -> Path:
    """params.yaml with one task `t` reading the table at `path`, plus `extra` top-level sections."""
    source = {"kind": "table", "path": path, "label_column": label_column}
    data = {"tasks": {"t": {"source": source}}, **extra}
    params = project / "params.yaml"
    params.write_text(yaml.safe_dump(data))
    return params


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI expecting an expected failure; return the exit code and stderr.

    Checks what every failure must look like: a non-zero exit, exactly one `crosstrain: error:`
    line, and no traceback anywhere.
    """
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert "Traceback" not in out + err
    assert [line for line in err.splitlines() if line.startswith("crosstrain: error: ")] == [
        err.splitlines()[0]
    ], err
    return code, err


def _nothing_prepared(project: Path) -> None:
    """No prepared output, and no half-written temporary directory either."""
    assert not (project / "data" / "prepared").exists()


# --- ingest: bad sources -----------------------------------------------------------------------------


def test_missing_source_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, "data/raw/absent.csv")
    # when
    code, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert code == 1
    assert "source file 'data/raw/absent.csv' not found" in err
    _nothing_prepared(project)


def test_unreachable_url(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, UNREACHABLE_URL)
    # when
    code, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert code == 1
    assert UNREACHABLE_URL in err
    assert "could not be reached" in err
    _nothing_prepared(project)


def test_table_without_the_label_column(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: the params name a label column the file does not have
    _params(project, _raw(project, _iris()), label_column="class")
    # when
    _, err = _fails(["ingest", "--task", "t"], capsys)
    # then: the missing column, and the columns there are
    assert "no label column 'class'" in err
    assert "species" in err
    _nothing_prepared(project)


def test_non_numeric_feature(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: a text column among the features
    _params(project, _raw(project, _iris().assign(colour="blue")))
    # when
    _, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert "feature column 'colour' must be numeric" in err
    assert "'blue'" in err
    _nothing_prepared(project)


def test_single_class_dataset(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    iris = _iris()
    _params(project, _raw(project, iris[iris.species == "virginica"]))
    # when
    _, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert "single class 'virginica'" in err
    _nothing_prepared(project)


# --- ingest: bad params -------------------------------------------------------------------------------


def test_malformed_params_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: an unclosed list on line 2
    (project / "params.yaml").write_text("seed: 1\nframeworks: [pytorch\n")
    # when
    code, err = _fails(["ingest", "--task", "iris"], capsys)
    # then
    assert code == 2
    assert "params.yaml: not valid YAML at line" in err
    _nothing_prepared(project)


def test_invalid_param_value(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, "data/raw/iris.csv", train={"epochs": -1})
    # when
    code, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert code == 2
    assert "params.yaml: train.epochs: Input should be greater than 0 (got -1)" in err
    _nothing_prepared(project)


def test_misspelt_param(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, "data/raw/iris.csv", train={"epoch": 3})
    # when
    _, err = _fails(["ingest", "--task", "t"], capsys)
    # then
    assert "train.epoch: unknown field" in err
    _nothing_prepared(project)


def test_invalid_set_override(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: valid params, a bad value on the command line
    _params(project, _raw(project, _iris()))
    # when
    code, err = _fails(["ingest", "--task", "t", "--set", "tasks.t.split.train=0.9"], capsys)
    # then
    assert code == 2
    assert "tasks.t.split: Value error, train + val + test must sum to 1" in err
    _nothing_prepared(project)


def test_set_without_equals_sign(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, _raw(project, _iris()))
    # when
    _, err = _fails(["ingest", "--task", "t", "-S", "seed"], capsys)
    # then
    assert "--set 'seed': expected KEY.PATH=VALUE" in err
    _nothing_prepared(project)


def test_no_params_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: a directory without params.yaml
    # when
    code, err = _fails(["ingest", "--task", "iris"], capsys)
    # then
    assert code == 2
    assert "params file 'params.yaml' not found" in err
    _nothing_prepared(project)


def test_params_option_names_a_missing_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # when
    _, err = _fails(["ingest", "--task", "iris", "--params", "conf/other.yaml"], capsys)
    # then
    assert "params file 'conf/other.yaml' not found" in err
    _nothing_prepared(project)


def test_unknown_task(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: params that define task `t` only
    _params(project, _raw(project, _iris()))
    # when
    code, err = _fails(["ingest", "--task", "nope"], capsys)
    # then
    assert code == 2
    assert "unknown task 'nope': params define t" in err
    _nothing_prepared(project)


def test_unknown_framework_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, _raw(project, _iris()))
    # when
    code = main(["train", "--task", "t", "--framework", "jax"])
    out, err = capsys.readouterr()
    # then: click's usage error, listing the valid choices, and no traceback
    assert code == 2
    assert "Traceback" not in out + err
    assert "'--framework'" in err
    assert "'jax' is not one of 'tensorflow', 'pytorch'" in err
    assert not (project / "models").exists()


def test_unknown_option_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code = main(["ingest", "--task", "t", "--epochs", "3"])
    out, err = capsys.readouterr()
    # then
    assert code == 2
    assert "Traceback" not in out + err
    assert "No such option: --epochs" in err


# --- validate: NaNs pass ingest, and validate rejects them ----------------------------------------------


def test_nan_features_are_ingested_and_then_rejected_by_validate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: iris with empty cells in one feature column, ingested without complaint
    iris = _iris()
    iris.loc[iris.index[::10], "petal width (cm)"] = np.nan
    _params(project, _raw(project, iris))
    assert main(["ingest", "--task", "t"]) == 0
    capsys.readouterr()
    # when
    code, err = _fails(["validate", "--task", "t"], capsys)
    # then: the column is named, and no validation report claims anything
    assert code == 1
    assert "validation failed" in err
    assert "petal width (cm)" in err
    assert not (project / "reports" / "validation" / "t").exists()
    reports = project / "reports" / "validation"
    assert not reports.exists() or list(reports.iterdir()) == []


# --- --debug, --version, --help, schema -------------------------------------------------------------


def test_debug_raises_the_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, "data/raw/absent.csv")
    # when / then: the exception itself, for its traceback
    with pytest.raises(SourceError, match="absent.csv"):
        main(["--debug", "ingest", "--task", "t"])


def test_debug_after_the_command_raises_too(project: Path) -> None:
    # given
    (project / "params.yaml").write_text("train: {epochs: 0}\n")
    # when / then
    with pytest.raises(ConfigError, match="train.epochs"):
        main(["ingest", "--task", "iris", "--debug"])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code = main(["--version"])
    # then
    assert code == 0
    assert capsys.readouterr().out.strip() == f"crosstrain {__version__}"


def test_help_lists_the_five_steps(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code = main(["--help"])
    out = capsys.readouterr().out
    # then
    assert code == 0
    commands = out.split("Commands:")[1]
    for step in STEPS:
        assert f"  {step} " in commands, step


def test_schema_prints_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code = main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    # then
    assert code == 0
    assert {"seed", "frameworks", "tasks", "train", "register", "mlflow"} <= set(schema["properties"])


# --- success --------------------------------------------------------------------------------------------


def test_ingest_a_table_source(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, _raw(project, _iris()))
    # when
    code = main(["ingest", "--task", "t"])
    out, err = capsys.readouterr()
    # then: rows and digest printed, and the files they describe on disk
    assert code == 0, err
    prepared = project / "data" / "prepared" / "t"
    meta = json.loads((prepared / META_FILE).read_text())
    rows = meta["rows"]
    assert f"ingest t: {rows['train']} train / {rows['val']} val / {rows['test']} test rows" in out
    assert "3 classes" in out
    assert f"digest {meta['digest'][:12]}" in out
    assert sum(rows.values()) + meta["duplicates_dropped"] == 150
    for split in SPLITS:
        assert (prepared / f"{split}.parquet").is_file()
    assert sorted(p.name for p in prepared.parent.iterdir()) == ["t"]


def test_set_overrides_reach_the_step(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    _params(project, _raw(project, _iris()))
    # when
    code = main(["ingest", "--task", "t", "--set", "tasks.t.limit=10"])
    out = capsys.readouterr().out
    # then
    assert code == 0
    assert "ingest t: 10 train /" in out
    assert json.loads((project / "data" / "prepared" / "t" / META_FILE).read_text())["limit"] == 10


# --- the installed console script ------------------------------------------------------------------------


def test_console_script_reports_a_missing_source_without_a_traceback(tmp_path: Path) -> None:
    # given: the real entry point, and params whose iris source is a file that does not exist
    script = Path(sys.executable).with_name("crosstrain")
    if not script.exists():
        pytest.skip(f"{script} not installed (pip install -e .)")
    (tmp_path / "params.yaml").write_text(
        "tasks:\n  iris:\n    source: {kind: table, path: data/raw/iris.csv, label_column: species}\n"
    )
    # when
    done = subprocess.run(
        [str(script), "ingest", "--task", "iris"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    # then
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "crosstrain: error: tasks.iris.source: source file 'data/raw/iris.csv' not found"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "data" / "prepared" / "iris").exists()
