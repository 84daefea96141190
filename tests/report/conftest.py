"""Report test fixtures: the real MLflow server of tests/tracking (artefacts are in report_artefacts.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# The real `mlflow server` fixture lives in tests/tracking/conftest.py; load it rather than copy it.
_spec = importlib.util.spec_from_file_location(
    "_tracking_conftest", Path(__file__).parents[1] / "tracking" / "conftest.py"
)
_tracking = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tracking)
mlflow_server = _tracking.mlflow_server
