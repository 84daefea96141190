"""The comparison as a table read back from MLflow: what `crosstrain compare` prints and writes.

Children of a comparison run are grouped by task, framework, kind (training, mode or reference) and
execution mode; each group's seeds give a mean and bootstrap interval per metric, as in the report.
The reference (framework scikit-learn, kind reference) is one deterministic run: one value, last.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.evaluation.stats import mean_ci
from crosstrain.report import wording
from crosstrain.report.summarize import interval_dict

COLUMNS = (
    names.TEST_ACCURACY,
    names.TEST_MACRO_F1,
    names.TRAIN_TIME,
    names.TRAIN_THROUGHPUT,
    names.THROUGHPUT,
    names.LATENCY_P50,
    names.LATENCY_P95,
    names.PEAK_RSS,
)
SHORT = {
    names.TEST_ACCURACY: "test acc",
    names.TEST_MACRO_F1: "macro-F1",
    names.TRAIN_TIME: "train s",
    names.TRAIN_THROUGHPUT: "train ex/s",
    names.THROUGHPUT: "infer ex/s",
    names.LATENCY_P50: "p50 ms",
    names.LATENCY_P95: "p95 ms",
    names.PEAK_RSS: "peak RSS MB",
}
KEYS = ("task", "framework", "kind", "mode")
_KIND_ORDER = {names.KIND_TRAINING: 0, names.KIND_MODE: 1}


def _key(run: Any) -> tuple[str, str, str, str]:
    tags = run.data.tags
    return (
        tags.get(names.TAG_TASK, "?"),
        tags.get(names.TAG_FRAMEWORK, "?"),
        tags.get(names.TAG_KIND, "?"),
        tags.get(names.TAG_MODE, "-"),
    )


def rows(children: list, cfg: ReportConfig) -> list[dict]:
    """One row per (task, framework, kind, mode): run count, and each metric's interval (or None)."""
    groups: dict[tuple, list] = defaultdict(list)
    for run in children:
        groups[_key(run)].append(run)
    out = []
    # Per task: the frameworks' rows, then the classical reference's (one deterministic run).
    order = sorted(groups, key=lambda k: (k[0], k[2] == names.KIND_REFERENCE, k[1], _KIND_ORDER.get(k[2], 9),
                                          k[3]))
    for key in order:
        runs = groups[key]
        row: dict = dict(zip(KEYS, key, strict=True)) | {"runs": len(runs)}
        for metric in COLUMNS:
            values = [r.data.metrics[metric] for r in runs if metric in r.data.metrics]
            row[metric] = (
                interval_dict(mean_ci(values, cfg.confidence, cfg.bootstrap_samples)) if values else None
            )
        out.append(row)
    return out


def header() -> list[str]:
    """Column titles, in the order `cells` gives them."""
    return [*KEYS, "runs", *(SHORT[m] for m in COLUMNS)]


def cells(row: dict) -> list[str]:
    """A row as text: mean [low, high] per metric, "-" where the group did not log it."""
    return [*(str(row[k]) for k in KEYS), str(row["runs"]), *(wording.interval(row[m]) for m in COLUMNS)]


def _short(value: float) -> str:
    return f"{value / 1e3:.1f}k" if abs(value) >= 1e4 else f"{value:.3g}"


def compact_cells(row: dict) -> list[str]:
    """A row for the terminal: mean ± the larger half of its interval, three significant digits."""
    out = [*(str(row[k]) for k in KEYS), str(row["runs"])]
    for metric in COLUMNS:
        ci = row[metric]
        if ci is None:
            out.append("-")
        elif ci["n"] < 2:
            out.append(_short(ci["mean"]))
        else:
            half = max(ci["mean"] - ci["low"], ci["high"] - ci["mean"])
            # The half-width in the mean's own unit (k for thousands), to two significant digits.
            shown = f"{half / 1e3:.1f}k" if abs(ci["mean"]) >= 1e4 else f"{half:.2g}"
            out.append(f"{_short(ci['mean'])} ±{shown}")
    return out


def markdown(table: list[dict], title: str) -> str:
    """The table as a Markdown document."""
    lines = [f"# {title}", "", "| " + " | ".join(header()) + " |", "|" + "---|" * len(header())]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in table]
    return "\n".join(lines) + "\n"


def csv_text(table: list[dict]) -> str:
    """The table as CSV, with mean, low and high in separate columns for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*KEYS, "runs", *(f"{m}_{part}" for m in COLUMNS for part in ("mean", "low", "high"))])
    for row in table:
        numbers = [row[m][part] if row[m] else "" for m in COLUMNS for part in ("mean", "low", "high")]
        writer.writerow([*(row[k] for k in KEYS), row["runs"], *numbers])
    return buffer.getvalue()
