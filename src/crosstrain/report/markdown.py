"""reports/comparison.md: the same figures and verdicts as the HTML, as GitHub-flavoured Markdown tables.

The plots stay in the HTML (Markdown viewers do not agree on embedded images); the curves behind
them are in reports/curves/ for `dvc plots show`.
"""

from __future__ import annotations

from crosstrain import names
from crosstrain.report import wording as w


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    return [*lines, ""]


def _task(task: str, result: dict) -> list[str]:
    fws = result["frameworks"]
    lines = [f"## {task}", "", "### Verdict", ""]
    if result["verdict"]:
        lines += _table(
            ["metric", "verdict", "evidence: mean [CI]"],
            [
                [w.label(v["metric"]), f"**{v['text']}**" if v["winner"] else v["text"], v["evidence"]]
                for v in result["verdict"]
            ],
        )
    else:
        lines += ["One framework only: nothing to compare.", ""]
    metrics = list(dict.fromkeys(m for s in fws.values() for m in s["metrics"]))
    lines += ["### Every metric (mean [CI] over seeds)", ""]
    lines += _table(
        ["metric", *fws],
        [[w.label(m), *(w.interval(s["metrics"].get(m)) for s in fws.values())] for m in metrics],
    )
    lines += ["### Execution modes", ""]
    mode_cols = [
        names.COMPILE_TIME,
        names.STEP_TIME,
        names.TRAIN_THROUGHPUT,
        names.LATENCY_P50,
        names.THROUGHPUT,
    ]
    rows = []
    for fw, s in fws.items():
        if s["modes"] is None:
            rows.append([fw, w.NOT_MEASURED, *[""] * len(mode_cols)])
            continue
        for m in s["modes"]:
            rows.append(
                [fw, m["mode"], *(w.number(m.get(c)) for c in mode_cols)]
                if m["supported"]
                else [fw, m["mode"], f"not supported: {m.get('reason')}", *[""] * (len(mode_cols) - 1)]
            )
    lines += _table(["framework", "mode", *map(w.label, mode_cols)], rows)
    lines += ["### ONNX Runtime", ""]
    onnx_cols = [
        names.ONNX_MAX_ABS_DIFF,
        names.ONNX_SIZE,
        names.ONNX_PREFIX + names.LATENCY_P50,
        names.ONNX_PREFIX + names.THROUGHPUT,
    ]
    rows = []
    for fw, s in fws.items():
        onnx = s["onnx"]
        if onnx is None:
            rows.append([fw, w.NOT_MEASURED, *[""] * len(onnx_cols)])
        elif onnx["exported"]:
            rows.append(
                [
                    fw,
                    f"seed {onnx.get('seed')}, opset {onnx.get('opset')}",
                    *(w.number(onnx.get(c)) for c in onnx_cols),
                ]
            )
        else:
            rows.append([fw, f"not exported: {onnx.get('reason')}", *[""] * len(onnx_cols)])
    lines += _table(["framework", "export", *map(w.label, onnx_cols)], rows)
    registry = result.get("registry")
    if registry is None:
        lines += [f"Registry: {w.NOT_MEASURED}.", ""]
    else:
        gate = registry.get("gate") or {}
        champion = (registry.get("champion") or {}).get("framework") or "none"
        decision = f"; gate: {gate.get('decision')} ({gate.get('reason')})" if gate else ""
        lines += [f"Registry champion: **{champion}**{decision}", ""]
    return lines


def render(report: dict) -> str:
    """The whole document."""
    lines = [
        f"# crosstrain comparison: {' vs '.join(report['frameworks'])}",
        "",
        f"Generated {report['generated_at']} · "
        f"MLflow parent run {report.get('parent_run_id') or 'not tracked'}"
        " · plots in comparison.html",
        "",
        w.METHOD_NOTE.format(
            confidence=report["confidence"], samples=report["bootstrap_samples"], seeds=report["seeds"]
        ),
        "",
        w.MODES_NOTE,
        "",
    ]
    for task, result in report["results"].items():
        lines += _task(task, result)
    lines += ["## Environment", ""]
    lines += _table(["", "value"], [list(r) for r in w.environment_rows(report["environment"])])
    return "\n".join(lines)
