"""Kubeflow test fixtures: components/ and pipelines/ importable, small params, the CLI with `pipeline`.

components/ and pipelines/ sit beside src/ (not in the installed package), so the repository root
goes on sys.path here, as `crosstrain pipeline ...` does for itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Small enough for CPU tests: iris only, 40 training rows, one seed, one epoch, any score crowns a
# champion; a few timed calls and steps, eager fp32 only (no torch.compile / XLA time), few resamples.
SMALL_PARAMS = {
    "seed": 42,
    "seeds": [0],
    "frameworks": ["tensorflow", "pytorch"],
    "tasks": {"iris": {"source": {"kind": "sklearn", "name": "iris"}, "limit": 40}},
    "train": {"epochs": 1, "batch_size": 16},
    "register": {"min_score": 0.0},
    "latency": {"calls": 5, "warmup": 1, "throughput_batch": 16, "throughput_repeats": 1},
    "measure": {"modes": ["eager-fp32"], "steps": 2, "warmup_steps": 1},
    "speed": {"rounds": 2, "steps": 2, "warmup_steps": 1},
    "report": {"bootstrap_samples": 200},
}


@pytest.fixture
def params_text() -> str:
    """The small settings as the text a pipeline's `params` parameter carries."""
    return json.dumps(SMALL_PARAMS)


@pytest.fixture
def small_params(tmp_path: Path) -> Path:
    """A params file with the small settings above."""
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL_PARAMS, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def cli():
    """`crosstrain` with the `pipeline` group, as cli/main.py registers it: `cli([...]) -> exit code`."""
    from crosstrain.cli import main as cli_main
    from crosstrain.cli import pipeline

    if not any(group.name == "pipeline" for group in cli_main.app.registered_groups):
        cli_main.app.add_typer(pipeline.app, name="pipeline")
    return cli_main.main
