"""reports/comparison.md: the same figures and verdicts as the HTML, as GitHub-flavoured Markdown tables.

The plots stay in the HTML (Markdown viewers do not agree on embedded images); the curves behind
them are in reports/curves/ for `dvc plots show`.
"""

from __future__ import annotations

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
    rows, missing = w.mode_rows(fws)
    rows += [[fw, w.NOT_MEASURED, *[""] * len(w.MODE_COLUMNS)] for fw in missing]
    lines += _table(["framework", "mode", *map(w.label, w.MODE_COLUMNS)], rows)
    lines += ["### ONNX Runtime", ""]
    rows, missing = w.onnx_rows(fws)
    rows += [[fw, w.NOT_MEASURED, *[""] * len(w.ONNX_COLUMNS)] for fw in missing]
    lines += _table(["framework", "export", *map(w.label, w.ONNX_COLUMNS)], rows)
    champion, gate = w.registry_line(result.get("registry"))
    if result.get("registry") is None:
        lines += [f"Registry: {w.NOT_MEASURED}.", ""]
    else:
        lines += [f"Registry champion: **{champion}**" + (f"; {gate}" if gate else ""), ""]
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
