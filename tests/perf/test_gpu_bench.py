"""bench/gpu.py, the prepared GPU check: its CPU dry run prints the table, with PyTorch alone when
TensorFlow is missing, and what it imports pulls in no MLflow, DVC or Great Expectations.

    .venv/bin/python -m pytest tests/perf/test_gpu_bench.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Runs bench/gpu.py as `python bench/gpu.py` would, with TensorFlow made unimportable first.
WITHOUT_TF = ("import runpy, sys; sys.modules['tensorflow'] = None; "
              "sys.argv = ['bench/gpu.py', *sys.argv[1:]]; "
              "runpy.run_path('bench/gpu.py', run_name='__main__')")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.mark.slow  # trains both models a few steps in a fresh process (~25 s)
def test_the_dry_run_prints_the_table_with_pytorch_alone_when_tensorflow_is_missing():
    done = subprocess.run([sys.executable, "-c", WITHOUT_TF, "--dry-run", "--modes", "eager-fp32"], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "TensorFlow is not installed: running PyTorch only" in lines
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| framework | model | mode | params on device | max |Δ logit| |")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[1:]]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("PyTorch", "cnn", "eager-fp32", "yes"),
                                                      ("PyTorch", "transformer", "eager-fp32", "yes")]
    assert all("(vs CPU)" in r[4] and r[8] == "n/a (CPU)" for r in rows)


def test_the_training_path_it_imports_loads_no_tracking_dvc_or_gx():
    probe = ("import json, sys; sys.path.insert(0, 'bench'); import gpu; "
             "from crosstrain.config import Framework; gpu.load(Framework.PYTORCH); "
             "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}
    assert "torch" in loaded
    assert not loaded & {"mlflow", "dvc", "great_expectations", "tensorflow", "keras"}
