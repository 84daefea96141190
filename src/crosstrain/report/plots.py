"""The report's figures, drawn with matplotlib's Agg backend and kept in memory as PNG bytes.

PNG (rather than inline SVG) keeps the HTML free of any URL at all, namespaces included, and
small enough to mail: the page embeds them as base64 data.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from crosstrain import names


@dataclass(frozen=True)
class Figure:
    """One rendered plot."""

    key: str
    title: str
    png: bytes


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _render(fig: Any, key: str, title: str) -> Figure:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    _plt().close(fig)
    return Figure(key, title, buffer.getvalue())


def _colors(frameworks: list[str]) -> dict[str, str]:
    palette = ["#ff6f00", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"]  # TensorFlow orange first
    return {fw: palette[i % len(palette)] for i, fw in enumerate(frameworks)}


def _curve_plot(task: str, summaries: dict[str, dict], x_key: str, xlabel: str, key: str) -> Figure:
    plt = _plt()
    colors = _colors(list(summaries))
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for fw, summary in summaries.items():
        points = [p for p in summary["curves"] if math.isfinite(p[x_key])]
        x = [p[x_key] for p in points]
        ax.plot(x, [p[names.VAL_ACCURACY] for p in points], color=colors[fw], label=fw)
        ax.fill_between(
            x,
            [p[f"{names.VAL_ACCURACY}_low"] for p in points],
            [p[f"{names.VAL_ACCURACY}_high"] for p in points],
            color=colors[fw],
            alpha=0.2,
            linewidth=0,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    title = f"{task}: validation accuracy vs {xlabel} (mean, band = CI over seeds)"
    ax.set_title(title, fontsize=9)
    return _render(fig, key, title)


def _accuracy_vs_time(task: str, summaries: dict[str, dict]) -> Figure:
    plt = _plt()
    colors = _colors(list(summaries))
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for fw, summary in summaries.items():
        runs = [r for r in summary["runs"] if names.TRAIN_TIME in r and names.TEST_ACCURACY in r]
        ax.scatter(
            [r[names.TRAIN_TIME] for r in runs],
            [r[names.TEST_ACCURACY] for r in runs],
            color=colors[fw],
            label=fw,
            s=36,
            alpha=0.8,
        )
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    title = f"{task}: test accuracy vs training time (one point per seed)"
    ax.set_title(title, fontsize=9)
    return _render(fig, "accuracy_vs_time", title)


def _latency_bars(summary: dict) -> list[tuple[str, float, float, float]]:
    """(label, p50, error low, error high) for native (CI over seeds), ONNX and every timed mode."""
    bars = []
    native = summary["metrics"].get(names.LATENCY_P50)
    if native:
        bars.append(
            ("native", native["mean"], native["mean"] - native["low"], native["high"] - native["mean"])
        )
    onnx = summary.get("onnx") or {}
    p50 = onnx.get(names.ONNX_PREFIX + names.LATENCY_P50)
    if p50 is not None:
        bars.append(("ONNX Runtime", p50, 0.0, 0.0))
    for mode in summary.get("modes") or []:
        if mode["supported"] and names.LATENCY_P50 in mode:
            bars.append((mode["mode"], mode[names.LATENCY_P50], 0.0, 0.0))
    return bars


def _latency(task: str, summaries: dict[str, dict]) -> Figure:
    plt = _plt()
    colors = _colors(list(summaries))
    rows = [(fw, *bar) for fw, summary in summaries.items() for bar in _latency_bars(summary)]
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.32 * max(len(rows), 2)))
    y = list(range(len(rows)))
    ax.barh(
        y,
        [r[2] for r in rows],
        xerr=[[r[3] for r in rows], [r[4] for r in rows]],
        color=[colors[r[0]] for r in rows],
        alpha=0.85,
        capsize=3,
    )
    ax.set_yticks(y, [f"{r[0]} {r[1]}" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("batch-1 latency p50 (ms)")
    ax.grid(axis="x", alpha=0.3)
    title = f"{task}: batch-1 inference latency (native: mean, CI over seeds)"
    ax.set_title(title, fontsize=9)
    return _render(fig, "latency", title)


def _memory(task: str, summaries: dict[str, dict]) -> Figure:
    """Process memory and model size side by side: MB and KB scales would hide each other on one axis."""
    plt = _plt()
    colors = _colors(list(summaries))
    panels = [
        [(names.PEAK_RSS, "peak RSS"), (names.TRAIN_RSS, "training RSS")],
        [(names.MODEL_SIZE, "model on disk")],
    ]
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / max(len(summaries), 1)
    for ax, metrics in zip(axes, panels, strict=True):
        for i, (fw, summary) in enumerate(summaries.items()):
            cis = [summary["metrics"].get(m) for m, _ in metrics]
            x = [j + i * width for j in range(len(metrics))]
            means = [ci["mean"] if ci else 0.0 for ci in cis]
            err = [
                [ci["mean"] - ci["low"] if ci else 0.0 for ci in cis],
                [ci["high"] - ci["mean"] if ci else 0.0 for ci in cis],
            ]
            bars = ax.bar(x, means, width, yerr=err, color=colors[fw], label=fw, capsize=3, alpha=0.85)
            ax.bar_label(bars, labels=[f"{v:.3g}" for v in means], fontsize=7, padding=2)
        ax.set_xticks(
            [j + width * (len(summaries) - 1) / 2 for j in range(len(metrics))], [lab for _, lab in metrics]
        )
        ax.set_ylabel("MB")
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    title = f"{task}: memory (mean, CI over seeds)"
    fig.suptitle(title, fontsize=9)
    return _render(fig, "memory", title)


def task_figures(task: str, summaries: dict[str, dict]) -> list[Figure]:
    """Every figure of one task, in the order the report shows them."""
    return [
        _curve_plot(task, summaries, "epoch", "epoch", "val_accuracy_vs_epoch"),
        _curve_plot(task, summaries, names.WALL_TIME, "wall time (s)", "val_accuracy_vs_wall_time"),
        _accuracy_vs_time(task, summaries),
        _latency(task, summaries),
        _memory(task, summaries),
    ]
