"""The environment record and the measured matrix-multiply peak."""

from __future__ import annotations

import json
import os
import sys

import pytest

from crosstrain import environment


def test_describe_is_cheap_complete_and_sane():
    loaded = set(sys.modules)
    info = environment.describe(threads=2)
    # Importing no framework the caller had not loaded.
    assert not ({"tensorflow", "torch"} & (set(sys.modules) - loaded))
    json.dumps(info)  # recorded as is in the report's JSON
    assert info["threads"] == 2
    assert info["cpu"]
    assert info["logical_cores"] == os.cpu_count() >= 1
    assert 1 <= info["affinity_cores"] <= info["logical_cores"]
    assert set(info["bf16"]) == {"avx512_bf16", "amx_bf16"}
    assert info["gpu"] is None or isinstance(info["gpu"], str)
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(environment.PACKAGES) <= set(info["versions"])
    assert info["versions"]["crosstrain"]
    assert info["versions"]["torch"]  # installed in the venv; absent ones would be None


def test_missing_package_is_none(monkeypatch):
    monkeypatch.setattr(environment, "PACKAGES", (*environment.PACKAGES, "no-such-package-xyz"))
    assert environment.versions()["no-such-package-xyz"] is None


def test_matmul_peak_in_both_frameworks():
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    # Small products keep this quick on a shared machine; the measurement is the same at any size.
    peak = environment.matmul_peak_gflops(threads=1, size=256, repeats=3)
    assert peak["threads"] == 1 and peak["size"] == 256
    torch_rate, tf_rate = peak["torch_gflops"], peak["tensorflow_gflops"]
    assert 0.1 < torch_rate < 1e5 and 0.1 < tf_rate < 1e5
    assert 0.1 < torch_rate / tf_rate < 10  # both call an optimised fp32 GEMM
    assert peak["peak_gflops"] == max(torch_rate, tf_rate)
    assert set(peak["tensorflow_threads"]) == {"intra_op", "inter_op"}
