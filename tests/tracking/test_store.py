"""A tracking URI that names a local file which is no MLflow store: one error line, nothing written.

The commands run in-process through `crosstrain.cli.main.main([...])`, as tests/cli does, against
the real MLflow and a real sqlite file holding garbage bytes.

.venv/bin/python -m pytest tests/tracking/test_store.py -q
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from crosstrain import names, tracking
from crosstrain.cli.main import main
from crosstrain.config import MlflowConfig
from crosstrain.errors import TrackingError
from crosstrain.io import atomic_write_json
from crosstrain.tracking import store

GARBAGE = bytes(range(256)) * 16  # 4 KiB that are not an SQLite header


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, made the working directory, with small params."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("seeds: [0]\ntrain:\n  epochs: 1\n")
    return tmp_path


@pytest.fixture
def garbage_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MLFLOW_TRACKING_URI naming a sqlite file of random-looking bytes."""
    path = tmp_path / "store" / "notadb.db"
    path.parent.mkdir()
    path.write_bytes(GARBAGE)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    return path


def _fails_on_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must exit non-zero with exactly one `crosstrain: error:` line and no traceback."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert "Traceback" not in out + err
    assert err.strip().count("\n") == 0 and err.startswith("crosstrain: error: "), err
    return err


def _nothing_tracked(project: Path, db: Path) -> None:
    assert db.read_bytes() == GARBAGE  # MLflow never opened it: no tables, no run, no registration
    assert not (db.parent / store.ARTIFACTS_DIR).exists()
    assert not (project / store.ARTIFACTS_DIR).exists()
    assert not (project / "mlflow.db").exists()


def test_train_on_a_garbage_sqlite_file_fails_with_one_line(
    project: Path, garbage_db: Path, iris_prepared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: prepared, validated iris, and MLFLOW_TRACKING_URI naming a file that is not a database
    shutil.copytree(iris_prepared, project / "data" / "prepared" / "iris")
    atomic_write_json(project / "reports" / "validation" / "iris" / names.VALIDATION_FILE, {"success": True})

    # when: a training starts
    err = _fails_on_one_line(["train", "--task", "iris", "--framework", "pytorch"], capsys)

    # then: the line names the URI and what to change; no run, no model, the file untouched
    assert f"sqlite:///{garbage_db}" in err and "not an SQLite database" in err
    assert "point MLFLOW_TRACKING_URI at an MLflow store" in err
    _nothing_tracked(project, garbage_db)
    assert not list((project / "models").rglob(names.TRAIN_INFO_FILE))


@pytest.mark.parametrize("argv", [["report"], ["compare"], ["sync"]])
def test_commands_that_only_read_or_upload_fail_the_same_way(
    argv: list[str], project: Path, garbage_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: the garbage store; when: the report, compare or sync runs
    err = _fails_on_one_line(argv, capsys)

    # then: one line naming the URI, and no report was written
    assert str(garbage_db) in err and "MLFLOW_TRACKING_URI" in err
    _nothing_tracked(project, garbage_db)
    assert not (project / "reports").exists()


def test_a_file_uri_naming_a_plain_file_fails_with_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a file-store URI (file:///...) naming a text file, not a directory
    plain = project / "passwd"
    plain.write_text("root:x:0:0:root:/root:/bin/bash\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", plain.as_uri())

    # when / then: compare fails on one line naming the file
    err = _fails_on_one_line(["compare"], capsys)
    assert f"the file {plain}, not a store directory" in err
    assert plain.read_text() == "root:x:0:0:root:/root:/bin/bash\n"


def test_params_uri_is_named_as_the_thing_to_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: no MLFLOW_TRACKING_URI, and params naming a directory as the sqlite file
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = MlflowConfig(tracking_uri=f"sqlite:///{tmp_path}")

    # when / then: making the tracker fails at once, pointing at params
    with pytest.raises(TrackingError, match="a directory, not an SQLite database: point mlflow.tracking_uri"):
        tracking.tracker(cfg)


def test_real_empty_and_absent_databases_pass(tmp_path: Path) -> None:
    # given: a real SQLite file, an empty file (MLflow fills it) and no file yet
    real = tmp_path / "real.db"
    sqlite3.connect(real).execute("create table t (x)").connection.close()
    (tmp_path / "empty.db").touch()

    # when / then: none is refused, and a NoTracker never looks
    for name in ("real.db", "empty.db", "absent.db"):
        store.check_store(f"sqlite:///{tmp_path / name}")
    store.check_store(tmp_path.as_uri())  # a file store's directory
    assert isinstance(tracking.tracker(MlflowConfig(tracking_uri="sqlite:////dev/null/x"), enabled=False),
                      tracking.NoTracker)
