"""The classical reference in the report: its row beside the frameworks', and one verdict line per task.

The reference (`crosstrain reference`) is deterministic: one fit, one number, no seeds and no
interval of its own. Each framework is compared with it as the frameworks are compared with each
other: 0/1 correctness per seed and test example, paired by example (the reference's row is the
same in every seed), so the deep model's seed-to-seed variance and the test set's size both count
(`stats.crossed_difference`); the frameworks' tests are Holm-corrected together. The line then
reads "both frameworks beat the reference by X points", "the reference beats both by X: the deep
models are under-trained or the task is linear", "both ... equivalent", or "mixed", clause by clause.

An older run without reference.json gets a row that says so, and no line.
"""

from __future__ import annotations

import numpy as np

from crosstrain import names
from crosstrain.config import ReportConfig
from crosstrain.errors import MissingInputError
from crosstrain.evaluation import stats
from crosstrain.report import wording as w
from crosstrain.report.verdict import correctness

QUESTION = "against the reference"
COLUMNS = (names.TEST_ACCURACY, names.TEST_MACRO_F1, names.TEST_LOG_LOSS, names.TRAIN_TIME,
           names.LATENCY_P50)


def _command(task: str) -> str:
    return f"crosstrain reference --task {task}"


def _correct(reference: dict, task: str) -> tuple[list[str], np.ndarray]:
    """(true class name per test row, the reference's 0/1 correctness per test row)."""
    classes, actual = reference.get("classes"), reference.get("actual")
    predicted = reference.get("predictions")
    if not classes or actual is None or predicted is None or len(actual) != len(predicted):
        raise MissingInputError(f"metrics/{task}/reference.json lacks its test predictions (written by an "
                                f"older crosstrain?): run `{_command(task)}`")
    return [classes[i] for i in actual], (np.asarray(actual) == np.asarray(predicted)).astype(np.float64)


def compare(task: str, reference: dict, preds: dict[str, list[dict[str, str]]],
            cfg: ReportConfig) -> dict[str, dict]:
    """Framework -> its accuracy minus the reference's (mean/low/high/n), outcome and Holm-adjusted p."""
    actual, ref = _correct(reference, task)
    estimates = {}
    for fw, rows in preds.items():
        _, indices, fw_actual, correct = correctness(rows)
        if indices != list(range(len(actual))) or fw_actual != actual:
            raise MissingInputError(f"{task}: {fw} and the reference were scored on different test rows: "
                                    f"run `{_command(task)}` on the data {fw} was evaluated on")
        estimates[fw] = stats.crossed_difference(correct, np.tile(ref, (correct.shape[0], 1)))
    m, alpha = cfg.equivalence_margin, 1.0 - cfg.confidence
    p_diff = stats.holm([e.p_zero() if e.known else 1.0 for e in estimates.values()])
    p_equal = stats.holm([e.p_equivalent(-m, m) if e.known else 1.0 for e in estimates.values()])
    out = {}
    for (fw, est), pd, pe in zip(estimates.items(), p_diff, p_equal, strict=True):
        low, high = est.interval(cfg.confidence) if est.known else (est.mean, est.mean)
        out[fw] = {"mean": est.mean, "low": low, "high": high, "n": est.n, "examples": est.examples,
                   "outcome": stats.outcome(pd, pe, alpha) if est.known else "inconclusive", "p_holm": pd,
                   "need": _need(est, m, cfg.confidence)}
    return out


def _need(est: stats.Crossed, margin: float, confidence: float) -> str:
    """About how many seeds or test examples would settle an inconclusive comparison, as the accuracy
    verdict says it."""
    if not est.known:
        return "at least 3 seeds"
    target = stats.target_half_width(est.mean, -margin, margin)
    seeds, examples = stats.crossed_needed(est, target, confidence)
    options = [f"about {w.needed(seeds, 'seeds')}"] if seeds else []
    options += [f"about {w.needed(examples, 'test examples')}"] if examples else []
    return " or ".join(options) or "more seeds and more test examples together"


def _shown(diff: dict) -> str:
    """`+2.1 [0.9, 3.3]` points, or `+2.1 (1 seed, no interval)`."""
    sign = "+" if diff["mean"] > 0 else ""
    if diff["n"] < 2:
        return f"{sign}{w.points(diff['mean'])} (1 seed, no interval)"
    return f"{sign}{w.points(diff['mean'])} [{w.points(diff['low'])}, {w.points(diff['high'])}]"


def _span(values: list[float]) -> str:
    """"2.1" or "1.5 to 2.1" accuracy points (absolute values)."""
    shown = sorted({w.points(abs(v)) for v in values}, key=float)
    return shown[0] if len(shown) == 1 else f"{shown[0]} to {shown[-1]}"


def _clause(fw: str, diff: dict, margin: float) -> str:
    outcome = diff["outcome"]
    if outcome == "difference":
        verb = "beats the reference" if diff["mean"] > 0 else "trails the reference"
        low, high = sorted((abs(diff["low"]), abs(diff["high"])))
        return f"{fw} {verb} by {w.points(abs(diff['mean']))} points [{w.points(low)}, {w.points(high)}]"
    if outcome == "equivalent":
        return f"{fw} is equivalent to it within ±{w.points(margin)} points ({_shown(diff)})"
    return f"{fw} vs the reference inconclusive ({_shown(diff)}; would need {diff['need']})"


def sentence(diffs: dict[str, dict], reference_accuracy: float, margin: float) -> tuple[str, str]:
    """(outcome, the verdict line) from each framework's comparison with the reference."""
    fws = list(diffs)
    every = "both frameworks" if len(fws) == 2 else fws[0] if len(fws) == 1 else "every framework"
    each = ", ".join(f"{fw} {_shown(d)}" for fw, d in diffs.items())
    means = [d["mean"] for d in diffs.values()]
    differ = all(d["outcome"] == "difference" for d in diffs.values())
    ref = f"reference {w.number(reference_accuracy)}"
    if differ and all(v > 0 for v in means):
        beat = "beats" if len(fws) == 1 else "beat"
        return "deep models better", f"{every} {beat} the reference by {_span(means)} points ({ref}; {each})"
    if differ and all(v < 0 for v in means):
        whom = "both" if len(fws) == 2 else every
        return ("reference better", f"the reference beats {whom} by {_span(means)} points: the deep models "
                f"are under-trained or the task is linear ({ref}; {each})")
    if all(d["outcome"] == "equivalent" for d in diffs.values()):
        are = "is" if len(fws) == 1 else "are"
        return ("equivalent", f"{every} {are} equivalent to the reference within ±{w.points(margin)} points "
                f"({ref}; {each})")
    if all(d["outcome"] == "inconclusive" for d in diffs.values()):
        needs = "; ".join(f"{fw} {d['need']}" for fw, d in diffs.items())
        return ("inconclusive", f"against the reference inconclusive ({ref}; {each}): would need {needs} "
                "to settle it")
    clauses = "; ".join(_clause(fw, d, margin) for fw, d in diffs.items())
    trailing = [fw for fw, d in diffs.items() if d["outcome"] == "difference" and d["mean"] < 0]
    why = (f" - {' and '.join(trailing)} under-trained for this task, or the task close to linear"
           if trailing else "")
    return "mixed", f"mixed against the reference ({ref}): {clauses}{why}"


def summarize(task: str, reference: dict | None, summaries: dict[str, dict],
              preds: dict[str, list[dict[str, str]]], cfg: ReportConfig, *, fair: bool = True) -> dict:
    """The task's reference section: its figures (or why there are none) and the verdict line.

    Args:
        task: The task.
        reference: metrics/<task>/reference.json, or None when `crosstrain reference` has not run.
        summaries: Framework -> its summarize_framework() section (the rows above the reference's).
        preds: Framework -> its predictions.csv rows.
        cfg: Confidence and the accuracy equivalence margin.
        fair: False when the fairness audit failed: the figures are shown, no verdict is given.
    """
    if reference is None:
        return {"present": False, "note": f"{w.NOT_MEASURED}: run `{_command(task)}`", "verdict": None}
    figures = {k: reference[k] for k in (*COLUMNS, names.VAL_ACCURACY) if k in reference}
    section = {"present": True, "description": reference.get("description"), "model": reference.get("model"),
               "library": reference.get("library"), "run_id": reference.get("run_id"),
               "metrics": figures, "differences": {}, "verdict": None}
    if not fair:
        return section | {"note": "no verdict: the comparison is unfair (see the fairness audit)"}
    try:
        diffs = compare(task, reference, preds, cfg)
    except MissingInputError as err:  # a stale reference: its row says why, the report still renders
        return section | {"note": str(err)}
    outcome, text = sentence(diffs, reference[names.TEST_ACCURACY], cfg.equivalence_margin)
    seeds = next(iter(diffs.values()))["n"]
    evidence = (f"{cfg.confidence:.0%} t-interval of each framework's accuracy minus the reference's over "
                f"{seeds} seeds × {reference.get('test_rows')} test examples, paired by example (the "
                "reference is one deterministic fit: no seed variance of its own); "
                "Holm-adjusted p " + ", ".join(f"{fw} {w.p_value(d['p_holm'])}" for fw, d in diffs.items())
                + (f"; {reference['input']}" if reference.get("input") else ""))
    section["differences"] = diffs
    section["verdict"] = {"question": QUESTION, "metric": names.TEST_ACCURACY, "outcome": outcome,
                          "text": text, "evidence": evidence, "margin": cfg.equivalence_margin}
    return section


def rows(section: dict, summaries: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per framework (mean [t-interval] over seeds), then the reference's."""
    header = ["model", *(w.label(c) for c in COLUMNS), "accuracy − reference (points)"]
    out = []
    for fw, summary in summaries.items():
        diff = section.get("differences", {}).get(fw)
        out.append([fw, *(w.interval(summary["metrics"].get(c), c) for c in COLUMNS),
                    _shown(diff) if diff else "-"])
    if section["present"]:
        label = f"reference: {section['description']} ({section['library']}; one deterministic fit)"
        out.append([label, *(w.number(section["metrics"].get(c)) for c in COLUMNS), "-"])
    else:
        out.append([f"reference: {section['note']}", *[""] * (len(COLUMNS) + 1)])
    return header, out


def line(section: dict | None) -> str | None:
    """The verdict line, or the note saying why there is none (None for a report without the section)."""
    if section is None:
        return None
    return section["verdict"]["text"] if section.get("verdict") else f"reference: {section['note']}"
