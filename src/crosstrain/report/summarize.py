"""The numbers of the report: every metric as mean and t-interval over seeds, validation curves, MFU.

Everything here is plain data (dicts of floats), so the HTML, the Markdown, the JSON and the
MLflow parent run all show the same figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict
from typing import TypeGuard

import numpy as np

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.evaluation.stats import Interval, mean_ci
from crosstrain.finite import is_finite_number
from crosstrain.report.collect import FrameworkInputs

# The metrics every report shows first, in this order; any other numeric run field follows, sorted.
MAIN_METRICS = (
    names.TEST_ACCURACY,
    names.TEST_MACRO_F1,
    names.TEST_LOG_LOSS,
    names.TRAIN_TIME,
    names.COMPILE_TIME,
    names.TRAIN_THROUGHPUT,
    names.STEP_TIME,
    names.LATENCY_P50,
    names.LATENCY_P95,
    names.LATENCY_P99,
    names.THROUGHPUT,
    names.PEAK_RSS,
    names.TRAIN_RSS,
    names.MODEL_SIZE,
    names.PARAM_COUNT,
    names.FLOPS_PER_EXAMPLE,
    names.ACHIEVED_FLOPS,
    names.MFU,
)
# Identifiers and settings, not measurements.
NOT_METRICS = {"seed", "run_id", "threads", "world_size", "test_rows"}
MODE_METRICS = (
    names.COMPILE_TIME,
    names.STEP_TIME,
    names.TRAIN_THROUGHPUT,
    "loss_first",
    "loss_last",
    names.LATENCY_P50,
    names.LATENCY_P95,
    names.LATENCY_P99,
    names.THROUGHPUT,
)
ONNX_METRICS = (
    names.ONNX_MAX_ABS_DIFF,
    names.ONNX_SIZE,
    *(
        names.ONNX_PREFIX + m
        for m in (names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT)
    ),
)


def interval_dict(ci: Interval) -> dict[str, float]:
    """An Interval as JSON-ready numbers."""
    return asdict(ci)


def _is_number(value: object) -> TypeGuard[int | float]:
    """`crosstrain.finite.is_finite_number`, telling mypy the value is then a number."""
    return is_finite_number(value)


def with_mfu(runs: list[dict], peak_gflops: float | None) -> list[dict]:
    """Each run with its model FLOP utilisation: achieved GFLOP/s over the machine's measured matmul peak."""
    out = []
    for run in runs:
        run = dict(run)
        achieved = run.get(names.ACHIEVED_FLOPS)
        if peak_gflops and _is_number(achieved) and names.MFU not in run:
            run[names.MFU] = achieved / peak_gflops
        out.append(run)
    return out


def metric_names(runs: list[dict]) -> list[str]:
    """The numeric fields the runs share, MAIN_METRICS first."""
    present = [set(k for k, v in run.items() if _is_number(v)) - NOT_METRICS for run in runs]
    common = set.intersection(*present) if present else set()
    return [m for m in MAIN_METRICS if m in common] + sorted(common - set(MAIN_METRICS))


def metric_intervals(runs: list[dict], cfg: ReportConfig) -> dict[str, dict[str, float]]:
    """Every metric of the runs as mean and Student-t interval over seeds (one seed: no interval, n says so).
    """
    return {
        metric: interval_dict(mean_ci([run[metric] for run in runs], cfg.confidence, cfg.bootstrap_samples))
        for metric in metric_names(runs)
    }


def curves(history: list[dict[str, float]], cfg: ReportConfig) -> list[dict[str, float]]:
    """Validation accuracy per epoch, mean and t-interval over the seeds that reached that epoch.

    Early stopping can end seeds at different epochs; a late epoch's point then rests on fewer
    seeds (its `n` says how many), rather than the curve stopping at the shortest run.
    """
    by_epoch: dict[int, list[dict[str, float]]] = defaultdict(list)
    for row in history:
        by_epoch[int(row["epoch"])].append(row)
    points = []
    for epoch in sorted(by_epoch):
        rows = by_epoch[epoch]
        acc = mean_ci([r[names.VAL_ACCURACY] for r in rows], cfg.confidence, cfg.bootstrap_samples)
        wall = [r[names.WALL_TIME] for r in rows if math.isfinite(r.get(names.WALL_TIME, math.nan))]
        points.append(
            {
                "epoch": epoch,
                names.WALL_TIME: float(np.mean(wall)) if wall else math.nan,
                names.VAL_ACCURACY: acc.mean,
                f"{names.VAL_ACCURACY}_low": acc.low,
                f"{names.VAL_ACCURACY}_high": acc.high,
                "n": acc.n,
            }
        )
    return points


def _pick(record: dict, keys: tuple[str, ...]) -> dict:
    return {k: record[k] for k in keys if _is_number(record.get(k))}


def modes_summary(modes: dict | None) -> list[dict] | None:
    """Each execution mode's single timed run (supported or the reason it is not); None if not measured."""
    if modes is None:
        return None
    return [
        {
            "mode": m["mode"],
            "supported": bool(m.get("supported")),
            "reason": m.get("reason"),
            "run_id": m.get("run_id"),
            **_pick(m, MODE_METRICS),
        }
        for m in modes.get("modes", [])
    ]


def onnx_summary(onnx: dict | None) -> dict | None:
    """The ONNX export's parity and ONNX Runtime timings; None if not measured."""
    if onnx is None:
        return None
    return {
        "exported": bool(onnx.get("exported")),
        "reason": onnx.get("reason"),
        "seed": onnx.get("seed"),
        "opset": onnx.get("opset"),
        "run_id": onnx.get("run_id"),
        **_pick(onnx, ONNX_METRICS),
    }


def summarize_framework(inputs: FrameworkInputs, cfg: ReportConfig, peak_gflops: float | None) -> dict:
    """One framework's section of the report's numbers."""
    runs = with_mfu(inputs.runs, peak_gflops)
    return {
        "mode": inputs.metrics.get("mode"),
        "threads": inputs.metrics.get("threads"),
        "seeds": [run.get("seed") for run in runs],
        "run_ids": [run.get("run_id") for run in runs],
        "runs": runs,
        "metrics": metric_intervals(runs, cfg),
        "curves": curves(inputs.history, cfg),
        "modes": modes_summary(inputs.modes),
        "onnx": onnx_summary(inputs.onnx),
    }
