"""Fixtures for the validate step's tests: each module prepares its `pristine` data once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def prepared(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the module's `pristine` prepared data that a test may corrupt."""
    return Path(shutil.copytree(pristine, tmp_path / "prep"))
