"""How numbers and names read in the report, shared by the HTML and the Markdown so both say the same."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crosstrain import names

LABELS = {
    names.TEST_ACCURACY: "test accuracy",
    names.TEST_MACRO_F1: "test macro-F1",
    names.TEST_LOG_LOSS: "test log-loss",
    names.TRAIN_TIME: "training time (s)",
    names.COMPILE_TIME: "compile/trace time (s)",
    names.TRAIN_THROUGHPUT: "training examples/s",
    names.STEP_TIME: "step time (ms)",
    names.LATENCY_P50: "batch-1 latency p50 (ms)",
    names.LATENCY_P95: "batch-1 latency p95 (ms)",
    names.LATENCY_P99: "batch-1 latency p99 (ms)",
    names.THROUGHPUT: "inference examples/s (large batch)",
    names.PEAK_RSS: "peak RSS (MB)",
    names.TRAIN_RSS: "training RSS (MB)",
    names.MODEL_SIZE: "model size (MB)",
    names.PARAM_COUNT: "parameters",
    names.FLOPS_PER_EXAMPLE: "forward FLOPs per example",
    names.ACHIEVED_FLOPS: "achieved GFLOP/s (training)",
    names.MFU: "MFU (achieved / matmul peak)",
    names.ONNX_MAX_ABS_DIFF: "max |ONNX - native| logit",
    names.ONNX_SIZE: "ONNX model size (MB)",
    "loss_first": "loss, first timed step",
    "loss_last": "loss, last timed step",
}
for _metric in (names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT):
    LABELS[names.ONNX_PREFIX + _metric] = "ONNX Runtime " + LABELS[_metric]

NOT_MEASURED = "not measured"

MODES_NOTE = (
    "Execution modes. eager = each framework's default execution: PyTorch eager, TensorFlow "
    "tf.function without XLA (what every training run above uses unless params say otherwise). "
    "compiled = torch.compile vs tf.function(jit_compile=True), i.e. XLA. fp32 = float32 throughout; "
    "mixed = bf16 compute with fp32 weights (torch.autocast / Keras mixed_bfloat16 on CPU; "
    "fp16/bf16 on GPU). "
    "Mode timings come from short timed trainings (`crosstrain measure`) from the same initial weights and "
    "batches, with op determinism off in both frameworks (it has no XLA kernel for some gradients); "
    "warm-up steps are excluded from throughput and the first step's time is the compile time."
)

METHOD_NOTE = (
    "Intervals over seeds are {confidence:.0%} Student-t intervals (t-interval) of the mean; one seed gives "
    "no interval and says so. Accuracy: every test example's 0/1 correctness in every seed, the difference "
    "paired by seed (seed s gives both frameworks the same initial weights and batch order) and by example, "
    "its variance from a two-way decomposition (seed + example + residual, Satterthwaite degrees of "
    "freedom), so seed-to-seed variance counts as well as the test set's size. "
    "Training speed (step time; training time, examples/s, GFLOP/s and MFU are the same measurement), "
    "inference latency (batch-1 p50) and memory (peak RSS) come from `crosstrain speed`: both frameworks "
    "measured alternately in fresh processes, paired by round, each a ratio with its t-interval on the "
    "log scale, Holm-corrected across the three questions; the training runs' own timings are shown but "
    "decide nothing. Each question ends in a difference (its interval excludes no-difference and the test "
    "passes), equivalence (two one-sided tests, TOST, at {alpha:.0%}: accuracy within ±{margin} points, "
    "ratios within 1 ± {speed:.0%}), or inconclusive, with about how many more seeds, test examples or "
    "rounds would settle it at the observed variance. Inconclusive is not evidence of sameness. "
    "Drift notes (\"rises with every seed\") are descriptive: three values are monotone one time in three "
    "by chance."
)


def method_note(report: dict) -> str:
    """METHOD_NOTE with the report's confidence and margins filled in (from the verdicts when the report
    lacks them)."""
    margins = {v["question"]: v.get("margin") for r in report["results"].values() for v in r["verdict"]}
    accuracy = report.get("equivalence_margin") or margins.get("accuracy") or 0.01
    speed = report.get("speed_equivalence") or margins.get("training speed") or 0.05
    return METHOD_NOTE.format(
        confidence=report["confidence"], alpha=1.0 - report["confidence"], margin=points(accuracy),
        speed=speed
    )


def label(metric: str) -> str:
    """A metric's readable name (its raw name when it has none)."""
    return LABELS.get(metric, metric.replace("_", " "))


def number(value: Any) -> str:
    """A figure with about four significant digits; large counts with thousands separators."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def value(metric: str, x: Any) -> str:
    """One figure of `metric`: MFU as a percentage, everything else as `number`."""
    if metric == names.MFU and isinstance(x, int | float) and math.isfinite(x):
        return f"{100 * x:.3g}%"
    return number(x)


def interval(ci: dict | None, metric: str = "") -> str:
    """`mean [low, high]` (a t-interval); a single seed shows its value and says it has no interval."""
    if not ci:
        return "-"
    if ci["n"] < 2:
        return value(metric, ci["mean"]) + " (1 seed, no interval)"
    if ci["low"] == ci["high"]:
        return value(metric, ci["mean"])
    return f"{value(metric, ci['mean'])} [{value(metric, ci['low'])}, {value(metric, ci['high'])}]"


def points(fraction: float) -> str:
    """An accuracy difference in percentage points, one decimal (finer is below any test set's resolution)."""
    return f"{100 * fraction:.1f}".replace("-0.0", "0.0")


def ratio(mean: float, low: float, high: float) -> str:
    """`2.7× [2.3, 3.1]`: three significant digits, so 1.05 and 0.95 stay apart."""
    def sig(x: float) -> str:
        return f"{x:#.3g}".rstrip(".")  # 2.00, not 2: the digits shown are the digits known

    return f"{sig(mean)}× [{sig(low)}, {sig(high)}]"


def needed(count: int | None, unit: str) -> str:
    """"12 seeds"; "more than 10,000 seeds"; "an unknown number of seeds" when no spread is known."""
    from crosstrain.evaluation.stats import NEED_CAP

    if count is None:
        return f"an unknown number of {unit}"
    if unit.endswith("seeds") and count > NEED_CAP or count > NEED_CAP * 100:
        return f"more than {NEED_CAP:,} {unit}"
    return f"{count:,} {unit}"


def p_value(p: float) -> str:
    """A p-value to two significant digits; below 0.0001 as "< 0.0001" (further digits mean nothing)."""
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"


def drift(values: list[float], unit: str) -> str:
    """"rises with every seed" / "falls with every round" for 3+ strictly monotone values, else ""."""
    if len(values) < 3:
        return ""
    steps = np.diff(np.asarray(values, dtype=float))
    if np.all(steps > 0):
        return f"rises with every {unit}"
    if np.all(steps < 0):
        return f"falls with every {unit}"
    return ""


def series(values: list[float], unit: str, metric: str = "") -> str:
    """Per-seed (or per-round) values in order, with a drift note when they are monotone."""
    shown = ", ".join(value(metric, v) for v in values)
    note = drift(values, unit)
    return f"{shown} ({note})" if note else shown


TRAINING_TIMINGS_NOTE = (
    "Timings and memory in this table come from the training runs (seeds one after another in one "
    "process, the frameworks in separate stages): shown for reference, they decide no verdict."
)


def per_seed(summary: dict, metric: str) -> str:
    """A framework's per-seed values of `metric`, in seed order, with a drift note."""
    values = [run[metric] for run in summary.get("runs", []) if isinstance(run.get(metric), int | float)]
    return series(values, "seed", metric) if values else "-"


def fairness_rows(fairness: dict, frameworks: list[str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the fairness audit: field, each framework's value, same?, named exception."""
    header = ["field", *frameworks, "same", "exception"]
    rows = [
        [str(r.get("field")), *(str(r.get(fw, "-")) for fw in frameworks), "yes" if r.get("same") else "no",
         r.get("exception") or ""]
        for r in fairness.get("rows", [])
    ]
    return header, rows


def environment_rows(env: dict) -> list[tuple[str, str]]:
    """The environment as (field, value) rows: hardware, threads, measured peak, versions."""
    rows = [
        ("CPU", str(env.get("cpu"))),
        ("logical cores (usable)", f"{env.get('logical_cores')} ({env.get('affinity_cores')})"),
        ("GPU", env.get("gpu") or "none"),
        ("GPU driver / memory", f"{env.get('gpu_driver')} / {env.get('gpu_memory')}" if env.get("gpu")
         else "none visible here (the fairness audit's device rows say where each run trained)"),
        ("threads pinned", str(env.get("threads"))),
        ("OS / Python", f"{env.get('os')} / {env.get('python')}"),
    ]
    for peak in env.get("matmul_peak", []):
        rows.append(
            (
                f"fp32 matmul peak at {peak['threads']} thread(s)",
                f"{number(peak.get('peak_gflops'))} GFLOP/s (torch {number(peak.get('torch_gflops'))}, "
                f"tensorflow {number(peak.get('tensorflow_gflops'))})",
            )
        )
    for package, version in (env.get("versions") or {}).items():
        rows.append((package, version or "not installed"))
    return rows


# --- rows both renderers show ------------------------------------------------------------------------

MODE_COLUMNS = (
    names.COMPILE_TIME,
    names.STEP_TIME,
    names.TRAIN_THROUGHPUT,
    names.LATENCY_P50,
    names.LATENCY_P95,
    names.THROUGHPUT,
    "loss_first",
    "loss_last",
)
ONNX_COLUMNS = (
    names.ONNX_MAX_ABS_DIFF,
    names.ONNX_SIZE,
    *(
        names.ONNX_PREFIX + m
        for m in (names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT)
    ),
)


def mode_rows(frameworks: dict[str, dict]) -> tuple[list[list[str]], list[str]]:
    """([framework, mode, *MODE_COLUMNS] rows, frameworks whose modes were not measured)."""
    rows, missing = [], []
    for fw, summary in frameworks.items():
        if summary["modes"] is None:
            missing.append(fw)
            continue
        for mode in summary["modes"]:
            if mode["supported"]:
                rows.append([fw, mode["mode"], *(number(mode.get(c)) for c in MODE_COLUMNS)])
            else:
                blank = [""] * (len(MODE_COLUMNS) - 1)
                rows.append([fw, mode["mode"], f"not supported: {mode.get('reason')}", *blank])
    return rows, missing


def onnx_rows(frameworks: dict[str, dict]) -> tuple[list[list[str]], list[str]]:
    """([framework, export, *ONNX_COLUMNS] rows, frameworks whose ONNX export was not measured)."""
    rows, missing = [], []
    for fw, summary in frameworks.items():
        onnx = summary["onnx"]
        if onnx is None:
            missing.append(fw)
        elif onnx["exported"]:
            export = f"seed {onnx.get('seed')}, opset {onnx.get('opset')}"
            rows.append([fw, export, *(number(onnx.get(c)) for c in ONNX_COLUMNS)])
        else:
            rows.append([fw, f"not exported: {onnx.get('reason')}", *[""] * len(ONNX_COLUMNS)])
    return rows, missing


def registry_line(registry: dict | None) -> tuple[str, str]:
    """(champion framework, the gate's decision and reason), or NOT_MEASURED and "" without a registry."""
    if registry is None:
        return NOT_MEASURED, ""
    gate = registry.get("gate") or {}
    champion = (registry.get("champion") or {}).get("framework") or "none"
    return champion, f"gate: {gate.get('decision')} ({gate.get('reason')})" if gate else ""
