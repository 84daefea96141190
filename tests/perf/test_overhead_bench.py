"""Smoke test of bench/overhead.py: it runs at tiny sizes and prints a ratio for both frameworks.

    .venv/bin/python -m pytest tests/perf/test_overhead_bench.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_overhead_bench_prints_a_ratio_per_framework(iris_prepared, repo_root, tmp_path):
    # given iris prepared, when the bench runs 2 repeats of 3 steps
    figures = tmp_path / "overhead.json"
    out = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "overhead.py"), "--tasks", "iris", "--repeats", "2",
         "--steps", "3", "--params", str(repo_root / "params.yaml"),
         "--prepared-root", str(iris_prepared.parent), "--json", str(figures)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    # then its table has one row per framework, and the ratio is crosstrain's time over the bare loop's
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith(("tensorflow ", "pytorch "))]
    assert sorted(row[0] for row in rows) == ["pytorch", "tensorflow"]
    assert all(row[1:3] == ["iris", "mlp[16]-relu"] for row in rows)
    results = json.loads(figures.read_text())
    for framework in ("tensorflow", "pytorch"):
        iris = results[framework]["iris"]
        assert iris["crosstrain_ms"] > 0 and iris["bare_ms"] > 0
        assert iris["ratio_min"] <= iris["ratio"] <= iris["ratio_max"]
        assert iris["deterministic_ms"] > 0 and iris["deterministic_ratio"] > 0  # train.deterministic's cost
