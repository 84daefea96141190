"""Shared fixtures: small real data (iris, prepared once per session) and a throwaway MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crosstrain.config import Settings, TaskConfig

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keep MLflow quiet and offline in tests.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository under test."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def iris_prepared(tmp_path_factory) -> Path:
    """Real iris, ingested once with the default split and seed 42 (read-only: copy before mutating)."""
    from crosstrain.data.ingest import ingest

    out = tmp_path_factory.mktemp("prepared") / "iris"
    ingest("iris", TaskConfig(), 42, out)
    return out


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """An empty sqlite MLflow store in tmp_path, selected through MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def small_settings() -> Settings:
    """Default params with a training budget small enough for tests."""
    return Settings.model_validate({"train": {"epochs": 3, "batch_size": 16}})
