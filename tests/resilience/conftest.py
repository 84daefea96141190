"""The resilience tests' project: prepared, validated iris and an empty MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from paused_training import PARAMS

from crosstrain import names


@pytest.fixture
def project(tmp_path, monkeypatch, iris_prepared, mlflow_store) -> Path:
    """Prepared, validated iris, params for a 6-epoch Adam run of one seed, an empty MLflow store; the cwd."""
    shutil.copytree(iris_prepared, tmp_path / "data" / "prepared" / "iris")
    (tmp_path / "reports" / "validation" / "iris").mkdir(parents=True)
    (tmp_path / "reports" / "validation" / "iris" / names.VALIDATION_FILE).write_text('{"success": true}')
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    monkeypatch.chdir(tmp_path)
    return tmp_path

