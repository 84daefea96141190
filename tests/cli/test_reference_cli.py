"""`crosstrain reference`: the file it writes (atomically), and one clear line when it cannot.

.venv/bin/python -m pytest tests/cli/test_reference_cli.py -q
"""

from __future__ import annotations

import json
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import yaml

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.data.dataset import load_split
from crosstrain.errors import ConfigError, DiskFullError
from crosstrain.layout import Layout


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str,
            iris_prepared: Path) -> Layout:
    """A project whose task `iris` is prepared (real iris) and validated, made the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "tasks": {"iris": {}},
        "latency": {"calls": 20, "warmup": 2, "throughput_batch": 64, "throughput_repeats": 1},
    }))
    layout = Layout(Path("."))
    shutil.copytree(iris_prepared, layout.prepared("iris"))
    assert main(["validate", "--task", "iris"]) == 0
    return layout


def _one_error_line(code: int, err: str) -> str:
    assert code != 0 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("crosstrain: error: "), err
    return lines[0]


def test_writes_the_metrics_file_and_prints_its_figures(project: Layout, capsys) -> None:
    # When the command runs on the prepared, validated task
    code = main(["reference", "--task", "iris"])
    out, err = capsys.readouterr()
    # Then it wrote metrics/iris/reference.json, and nothing else beside it
    assert code == 0, err
    result = json.loads(project.reference("iris").read_text())
    assert sorted(p.name for p in project.reference("iris").parent.iterdir()) == ["reference.json"]
    assert result["task"] == "iris" and result["run_id"]
    assert result["actual"] == load_split(project.prepared("iris"), "test").y.tolist()
    assert f"test_accuracy {result[names.TEST_ACCURACY]:.3f}" in out and str(project.reference("iris")) in out


def test_a_failed_write_leaves_the_previous_file_as_it_was(project: Layout, capsys, monkeypatch) -> None:
    # Given a reference written earlier
    assert main(["reference", "--task", "iris"]) == 0
    before = project.reference("iris").read_bytes()
    capsys.readouterr()
    # When the disk is full as the new one is written
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1, 1, 0))
    code = main(["reference", "--task", "iris"])
    # Then one line names the file, and the old file is whole, with no temporary left beside it
    line = _one_error_line(code, capsys.readouterr().err)
    assert code == DiskFullError.exit_code and str(project.reference("iris")) in line
    assert project.reference("iris").read_bytes() == before
    assert sorted(p.name for p in project.reference("iris").parent.iterdir()) == ["reference.json"]


def test_an_unknown_task_is_one_line_and_a_non_zero_exit(project: Layout, capsys) -> None:
    code = main(["reference", "--task", "nope"])
    line = _one_error_line(code, capsys.readouterr().err)
    assert code == ConfigError.exit_code
    assert line == "crosstrain: error: unknown task 'nope': params define iris"
    assert not project.reference("nope").exists()


def test_an_unvalidated_task_names_the_command_to_run(project: Layout, capsys) -> None:
    shutil.rmtree(project.validation("iris"))
    line = _one_error_line(main(["reference", "--task", "iris"]), capsys.readouterr().err)
    assert "crosstrain validate --task iris" in line
    assert not project.reference("iris").exists()


def test_help_says_what_it_fits_and_where_it_writes(capsys) -> None:
    assert main(["reference", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("logistic regression", "TF-IDF", "val split", "metrics/<task>/reference.json",
                  "crosstrain.kind=reference", "crosstrain reference --task text"):
        assert words in text, words
