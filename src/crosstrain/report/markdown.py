"""reports/comparison.md: the same figures and verdicts as the HTML, as GitHub-flavoured Markdown tables.

The plots stay in the HTML (Markdown viewers do not agree on embedded images); the curves behind
them are in reports/curves/ for `dvc plots show`.
"""

from __future__ import annotations

from crosstrain.report import reference as ref
from crosstrain.report import wording as w


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    return [*lines, ""]


def _fairness(fairness: dict | None, frameworks: list[str]) -> list[str]:
    if fairness is None:
        return [f"Fairness audit: {w.NOT_MEASURED}.", ""]
    header, rows = w.fairness_rows(fairness, frameworks)
    return _table(header, rows)


def _reference(section: dict | None, frameworks: dict[str, dict]) -> list[str]:
    """The frameworks and the classical reference side by side, under the reference's verdict line."""
    if section is None:
        return []
    verdict = section.get("verdict")
    lead = f"**{verdict['text']}**" if verdict else ref.line(section) or ""
    lines = ["### Against a classical reference", "", lead, ""]
    lines += _table(*ref.rows(section, frameworks))
    return [*lines, verdict["evidence"], ""] if verdict else lines


def _task(task: str, result: dict) -> list[str]:
    fws = result["frameworks"]
    fairness: dict | None = result.get("fairness")
    unfair = fairness is not None and not fairness.get("fair", True)
    lines = [f"## {task}", ""]
    if unfair:
        lines += ["> **Unfair comparison: no verdict is given.**", ">"]
        lines += [f"> - {d}" for d in (fairness or {}).get("differences", [])] + [""]
        lines += ["### Fairness audit", "", *_fairness(fairness, list(fws))]
    lines += ["### Verdict", ""]
    if unfair:
        lines += ["No verdict: the comparison is unfair (see the fairness audit above).", ""]
    elif result["verdict"]:
        lines += [f"- {v['text']}" for v in result["verdict"] if v["headline"]] + [""]
        lines += ["#### Verdict detail", ""]
        lines += _table(
            ["question", "outcome", "verdict", "evidence"],
            [
                [v["question"], v["outcome"], f"**{v['text']}**" if v["winner"] else v["text"], v["evidence"]]
                for v in result["verdict"]
            ],
        )
    else:
        lines += ["One framework only: nothing to compare.", ""]
    if not unfair:
        lines += ["### Fairness audit", "", *_fairness(fairness, list(fws))]
    lines += _reference(result.get("reference"), fws)
    metrics = list(dict.fromkeys(m for s in fws.values() for m in s["metrics"]))
    lines += ["### Every metric (mean [t-interval] over seeds, and each seed)", ""]
    lines += _table(
        ["metric", *(h for fw in fws for h in (fw, f"{fw} per seed"))],
        [
            [w.label(m), *(c for s in fws.values()
                           for c in (w.interval(s["metrics"].get(m), m), w.per_seed(s, m)))]
            for m in metrics
        ],
    )
    lines += [w.TRAINING_TIMINGS_NOTE, ""]
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
        w.method_note(report),
        "",
        w.MODES_NOTE,
        "",
    ]
    for task, result in report["results"].items():
        lines += _task(task, result)
    lines += ["## Environment", ""]
    lines += _table(["", "value"], [list(r) for r in w.environment_rows(report["environment"])])
    return "\n".join(lines)
