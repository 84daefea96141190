"""How numbers and names read in the report, shared by the HTML and the Markdown so both say the same."""

from __future__ import annotations

import math

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
    "Intervals are {confidence:.0%} bootstrap percentile intervals ({samples:,} resamples) of the mean over "
    "seeds {seeds}. Test accuracy is compared with a paired bootstrap over test examples (each example's "
    "correctness averaged over seeds); other metrics by whether the seeds' intervals overlap. "
    '"No significant difference" means the interval of the difference includes zero '
    "(or the intervals overlap)."
)


def label(metric: str) -> str:
    """A metric's readable name (its raw name when it has none)."""
    return LABELS.get(metric, metric.replace("_", " "))


def number(value) -> str:
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


def interval(ci: dict | None) -> str:
    """`mean [low, high]`; a single seed shows only its value."""
    if not ci:
        return "-"
    if ci["n"] < 2 or ci["low"] == ci["high"]:
        suffix = " (1 seed)" if ci["n"] < 2 else ""
        return number(ci["mean"]) + suffix
    return f"{number(ci['mean'])} [{number(ci['low'])}, {number(ci['high'])}]"


def environment_rows(env: dict) -> list[tuple[str, str]]:
    """The environment as (field, value) rows: hardware, threads, measured peak, versions."""
    rows = [
        ("CPU", str(env.get("cpu"))),
        ("logical cores (usable)", f"{env.get('logical_cores')} ({env.get('affinity_cores')})"),
        ("GPU", env.get("gpu") or "none"),
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
