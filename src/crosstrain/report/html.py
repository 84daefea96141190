"""reports/comparison.html: one self-contained page (inline CSS, PNG plots as data, no script, no URL).

It has to open from a mail attachment or an MLflow artifact view with nothing else around it, and
read in two minutes: the verdicts first, the evidence per task below.
"""

from __future__ import annotations

import base64
from html import escape

from crosstrain.report import reference as ref
from crosstrain.report import wording as w
from crosstrain.report.plots import Figure

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-top:1.4em}table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5}
td.win{background:#e7f6e7;font-weight:600}td.text{text-align:left}
.note{background:#f8f8f8;border-left:4px solid #bbb;padding:.5em 1em;margin:1em 0}
.muted{color:#777}figure{display:inline-block;margin:.5em 1em .5em 0}figcaption{font-size:.85em;color:#555}
img{max-width:100%;border:1px solid #eee}
.unfair{background:#fdecea;border-left:4px solid #c0392b;padding:.5em 1em;margin:1em 0}
"""


def _table(
    header: list[str],
    rows: list[list[str]],
    win: dict[tuple[int, int], bool] | None = None,
    text_cols: tuple[int, ...] = (),
) -> str:
    win = win or {}
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            classes = " ".join(c for c, on in (("win", win.get((i, j))), ("text", j in text_cols)) if on)
            cells.append(
                f'<td class="{classes}">{escape(cell)}</td>' if classes else f"<td>{escape(cell)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _headline(verdicts: list[dict]) -> str:
    """One sentence per question (accuracy, training speed, inference latency, memory)."""
    items = "".join(f"<li>{escape(v['text'])}</li>" for v in verdicts if v["headline"])
    return f"<ul>{items}</ul>"


def _verdicts(verdicts: list[dict]) -> str:
    rows = [[v["question"], v["outcome"], v["text"], v["evidence"]] for v in verdicts]
    win = {(i, 2): True for i, v in enumerate(verdicts) if v["winner"]}
    return _table(["question", "outcome", "verdict", "evidence"], rows, win, text_cols=(1, 2, 3))


def _fairness(fairness: dict | None, frameworks: list[str]) -> str:
    """The fairness audit: every compared setting per framework; the differences first when unfair."""
    if fairness is None:
        return f'<p class="muted">Fairness audit: {w.NOT_MEASURED}.</p>'
    out = ""
    if not fairness.get("fair", True):
        items = "".join(f"<li>{escape(d)}</li>" for d in fairness.get("differences", []))
        out += f'<div class="unfair"><b>Unfair comparison: no verdict is given.</b><ul>{items}</ul></div>'
    header, rows = w.fairness_rows(fairness, frameworks)
    seeds = ", ".join(map(str, fairness.get("seeds", [])))
    out += _table(header, rows, text_cols=tuple(range(1, len(header))))
    return out + (f'<p class="muted">Seeds audited: {escape(seeds)}.</p>' if seeds else "")


def _metrics(frameworks: dict[str, dict], verdicts: list[dict]) -> str:
    fws = list(frameworks)
    # Only verdicts decided on these very numbers (the training runs' seeds) mark a cell: the speed
    # verdicts come from speed.json, not from the training runs' timings shown here.
    winners = {v["metric"]: v["winner"] for v in verdicts if v.get("unit") != "round"}
    metrics = list(dict.fromkeys(m for s in frameworks.values() for m in s["metrics"]))
    rows, win = [], {}
    for i, metric in enumerate(metrics):
        cells = []
        for fw in fws:
            cells += [w.interval(frameworks[fw]["metrics"].get(metric), metric),
                      w.per_seed(frameworks[fw], metric)]
        rows.append([w.label(metric), *cells])
        if winners.get(metric) in fws:
            win[(i, 1 + 2 * fws.index(winners[metric]))] = True
    seeds = ", ".join(
        f"{fw}: {len(s['runs'])} seeds, mode {s.get('mode')}, {s.get('threads')} thread(s)"
        for fw, s in frameworks.items()
    )
    header = ["metric"] + [h for fw in fws for h in (f"{fw} mean [CI]", f"{fw} per seed")]
    return (
        _table(header, rows, win)
        + f'<p class="muted">{escape(seeds)}. {escape(w.TRAINING_TIMINGS_NOTE)}</p>'
    )


def _reference(section: dict | None, frameworks: dict[str, dict]) -> str:
    """The frameworks and the classical reference side by side, under the reference's verdict line."""
    if section is None:
        return ""
    header, rows = ref.rows(section, frameworks)
    verdict = section.get("verdict")
    lead = (f"<p><b>{escape(verdict['text'])}</b></p>" if verdict
            else f'<p class="muted">{escape(ref.line(section) or "")}</p>')
    detail = f'<p class="muted">{escape(verdict["evidence"])}</p>' if verdict else ""
    return f"<h3>Against a classical reference</h3>{lead}{_table(header, rows)}{detail}"


def _measured(header: list[str], rows: list[list[str]], missing: list[str], what: str, command: str) -> str:
    """A table of what was measured, and a line naming the frameworks where it was not."""
    out = _table(header, rows, text_cols=(1,)) if rows else ""
    if missing:
        out += (
            f'<p class="muted">{what} {w.NOT_MEASURED} for {escape(", ".join(missing))} '
            f"(run <code>{command}</code>).</p>"
        )
    return out


def _modes(frameworks: dict[str, dict]) -> str:
    header = ["framework", "mode", *map(w.label, w.MODE_COLUMNS)]
    return _measured(header, *w.mode_rows(frameworks), "Execution modes", "crosstrain measure")


def _onnx(frameworks: dict[str, dict]) -> str:
    header = ["framework", "export", *map(w.label, w.ONNX_COLUMNS)]
    return _measured(header, *w.onnx_rows(frameworks), "ONNX", "crosstrain export")


def _registry(registry: dict | None) -> str:
    if registry is None:
        return f'<p class="muted">Registry: {w.NOT_MEASURED} (run <code>crosstrain register</code>).</p>'
    champion, gate = w.registry_line(registry)
    return f"<p>Registry champion: <b>{escape(champion)}</b>{escape('; ' + gate if gate else '')}</p>"


def _figures(figures: list[Figure]) -> str:
    out = []
    for fig in figures:
        data = base64.b64encode(fig.png).decode("ascii")
        out.append(
            f'<figure><img alt="{escape(fig.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(fig.title)}</figcaption></figure>"
        )
    return "".join(out)


def _task(task: str, result: dict, figures: list[Figure]) -> str:
    fws = result["frameworks"]
    fairness = result.get("fairness")
    unfair = fairness is not None and not fairness.get("fair", True)
    if unfair:
        verdict = '<p class="muted">No verdict: the comparison is unfair (see the fairness audit above).</p>'
    elif not result["verdict"]:
        verdict = '<p class="muted">One framework only: nothing to compare.</p>'
    else:
        verdict = f"{_headline(result['verdict'])}<h3>Verdict detail</h3>{_verdicts(result['verdict'])}"
    audit = f"<h3>Fairness audit</h3>{_fairness(fairness, list(fws))}"
    return (
        f'<section id="task-{escape(task)}"><h2>{escape(task)}</h2>'
        + (audit if unfair else "")
        + f"<h3>Verdict</h3>{verdict}"
        + ("" if unfair else audit)
        + _reference(result.get("reference"), fws)
        + f"<h3>Every metric</h3>{_metrics(fws, result['verdict'])}"
        f"<h3>Execution modes</h3>{_modes(fws)}"
        f"<h3>ONNX Runtime (deployment side)</h3>{_onnx(fws)}"
        f"{_registry(result.get('registry'))}"
        f"<h3>Plots</h3>{_figures(figures)}</section>"
    )


def _summary(report: dict) -> str:
    items = []
    for task, result in report["results"].items():
        fairness = result.get("fairness")
        if fairness is not None and not fairness.get("fair", True):
            lines = "unfair comparison, no verdict: " + "; ".join(fairness.get("differences", []))
        else:
            headlines = [f"{v['text']}." for v in result["verdict"] if v["headline"]]
            lines = " ".join(headlines) or "nothing to compare"
        if (reference_line := ref.line(result.get("reference"))) is not None:
            lines += f" {reference_line[0].upper()}{reference_line[1:]}."
        items.append(f"<li><b>{escape(task)}</b>: {escape(lines)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def render(report: dict, figures: dict[str, list[Figure]]) -> str:
    """The whole page."""
    method = w.method_note(report)
    env = _table(["", "value"], [list(r) for r in w.environment_rows(report["environment"])], text_cols=(1,))
    tasks = "".join(_task(task, result, figures.get(task, [])) for task, result in report["results"].items())
    parent = report.get("parent_run_id") or "not tracked"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>crosstrain comparison: {escape(', '.join(report['frameworks']))}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>crosstrain comparison: {escape(' vs '.join(report['frameworks']))}</h1>"
        f'<p class="muted">Generated {escape(report["generated_at"])} · MLflow parent run {escape(parent)} · '
        f"tasks {escape(', '.join(report['results']))}</p>"
        f'<h2>Summary</h2>{_summary(report)}<p class="note">{escape(method)}</p>'
        f'<p class="note">{escape(w.MODES_NOTE)}</p>'
        f"{tasks}<h2>Environment</h2>{env}</body></html>\n"
    )
