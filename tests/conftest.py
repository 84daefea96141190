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


@pytest.fixture(scope="session", autouse=True)
def _tensorflow_threads_pinned_first():
    """Pin TensorFlow's thread pools to params' default (1) before any test runs a TensorFlow op.

    TensorFlow fixes its pools when its runtime starts; `crosstrain train` configures them first
    thing, but in a test worker whichever test first touched TensorFlow would leave them at
    TensorFlow's default (every core) for the rest of the worker - and the fairness records rightly
    report that TensorFlow then trains on more threads than PyTorch.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already started (a plugin imported it and ran an op): nothing to pin
        pass


# The longest test files, collected first: with `--dist loadfile` (make test) xdist hands files out in
# collection order, and the end-to-end `dvc repro` (5 of the suite's minutes on 2 cores) collected last,
# as it was alphabetically, ran alone on one worker after the other had finished everything else.
LONGEST_FIRST = (
    "tests/test_pipeline.py",
    "tests/kfp/test_pipeline_local.py",
    "tests/reproduce/test_reproduce_run.py",
    "tests/tracking/test_serve.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the LONGEST_FIRST files to the front, in that order; the rest keep theirs."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        return rank.get(Path(item.path).relative_to(REPO_ROOT).as_posix(), len(rank))

    items.sort(key=key)
