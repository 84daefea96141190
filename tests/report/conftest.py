"""Report test fixtures: real artefacts (report_artefacts.py) and a real MLflow server."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from report_artefacts import make_project

from crosstrain.layout import Layout

# The real `mlflow server` fixture lives in tests/tracking/conftest.py; load it rather than copy it.
_spec = importlib.util.spec_from_file_location(
    "_tracking_conftest", Path(__file__).parents[1] / "tracking" / "conftest.py"
)
_tracking = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tracking)
mlflow_server = _tracking.mlflow_server


@pytest.fixture
def report_project(tmp_path, iris_prepared, mlflow_store) -> Layout:
    """A project with real artefacts and runs in a fresh sqlite store (MLFLOW_TRACKING_URI)."""
    return make_project(tmp_path / "project", iris_prepared)
