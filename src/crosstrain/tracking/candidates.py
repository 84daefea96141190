"""The register step's inputs: each framework's evaluated runs, checked, and which one to weigh.

Everything here is read and checked before the registry is touched (`crosstrain.tracking.registry`):
a malformed or missing input registers nothing. `pick_best` follows the report's accuracy verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrain.config import Settings
from crosstrain.errors import CorruptFileError, CrosstrainError, MissingInputError
from crosstrain.evaluation import stats
from crosstrain.evaluation.stats import Interval, mean_ci
from crosstrain.finite import is_finite_number as _finite
from crosstrain.io import read_json
from crosstrain.names import FINAL_VAL_ACCURACY, TEST_ACCURACY, TEST_LOG_LOSS, TEST_MACRO_F1
from crosstrain.tracking.gate import Option, Scores, choose

RUN_KEYS = ("run_id", "model_uri")


@dataclass(frozen=True)
class Candidate:
    """One framework's trained models (one per seed), checked; `run_id`/`model_uri` is the one to register."""

    framework: str
    run_id: str
    model_uri: str
    seed: int | None
    interval: Interval  # of the register metric over seeds
    log_loss: float = math.inf  # mean over seeds: a tie-breaker (register.tie_breaker)
    per_seed: tuple[tuple[int | None, float], ...] = ()  # (seed, register metric) per run
    macro_f1: float = -math.inf  # mean over seeds: a tie-breaker

    @property
    def score(self) -> float:
        """The register metric's mean over seeds."""
        return self.interval.mean

    @property
    def scores(self) -> Scores:
        """The register metric over seeds, for the gate's Welch test."""
        return Scores.of([value for _, value in self.per_seed] or [self.score])


def _load(path: Path, step: str) -> dict[str, Any]:
    """A JSON object from an earlier step's output, or an error saying which step to run."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run {step} first")
    try:
        data = read_json(path)
    except CorruptFileError as err:
        raise CrosstrainError(f"{err}; or rerun {step}") from None
    if not isinstance(data, dict):
        raise CrosstrainError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _candidate(task: str, framework: str, metric_file: Path, metric: str, settings: Settings) -> Candidate:
    metrics = _load(metric_file, f"the evaluate step for {task}/{framework}")
    # evaluate records whose metrics these are: catch a file copied from another task or framework.
    for key, expected in (("task", task), ("framework", framework)):
        if metrics.get(key) != expected:
            raise CrosstrainError(f"{metric_file} is for {key} {metrics.get(key)!r}, not {expected!r}")
    runs = metrics.get("runs")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise CrosstrainError(
            f"{metric_file}: 'runs' must be a non-empty list of per-seed results; rerun evaluate")
    for i, run in enumerate(runs):
        for key in RUN_KEYS:
            if not isinstance(run.get(key), str) or not run[key]:
                raise CrosstrainError(f"{metric_file}: runs[{i}].{key} is missing or not a string")
        if not _finite(run.get(metric)):
            raise CrosstrainError(
                f"{metric_file}: runs[{i}].{metric} (register.metric) is {run.get(metric)!r}, "
                "not a finite number")
    interval = mean_ci([float(r[metric]) for r in runs], settings.report.confidence,
                       settings.report.bootstrap_samples)
    # The version to register: the best seed on validation data (max keeps the first of equals).
    chosen = max(runs, key=lambda r: r[FINAL_VAL_ACCURACY] if _finite(r.get(FINAL_VAL_ACCURACY))
                 else -math.inf)
    losses = [float(r[TEST_LOG_LOSS]) for r in runs if _finite(r.get(TEST_LOG_LOSS))]
    f1s = [float(r[TEST_MACRO_F1]) for r in runs if _finite(r.get(TEST_MACRO_F1))]
    seed = chosen.get("seed")
    return Candidate(framework, chosen["run_id"], chosen["model_uri"],
                     seed if isinstance(seed, int) else None,
                     interval, sum(losses) / len(losses) if losses else math.inf,
                     tuple((r.get("seed"), float(r[metric])) for r in runs),
                     sum(f1s) / len(f1s) if f1s else -math.inf)


def read_candidates(task: str, settings: Settings, metric_files: dict[str, Path]) -> list[Candidate]:
    """Check every framework's metrics file; ordered as `settings.frameworks` lists them.

    The order matters: a full tie goes to the framework listed first.
    """
    if not metric_files:
        raise CrosstrainError(f"nothing to register for task {task!r}: no evaluated models given")
    # Plain strings from here on: they become alias names and JSON keys, whatever enum the caller used.
    metric_files = {str(fw): Path(path) for fw, path in metric_files.items()}
    listed = [str(fw) for fw in settings.frameworks]
    order = sorted(metric_files, key=lambda fw: listed.index(fw) if fw in listed else len(listed))
    metric = settings.registry.metric
    return [_candidate(task, fw, metric_files[fw], metric, settings) for fw in order]


def _accuracy_outcome(task: str, a: Candidate, b: Candidate, settings: Settings,
                      predictions: dict[str, list[dict[str, str]]] | None) -> tuple[str, str | None, str]:
    """(outcome, winner, sentence) of a vs b on the register metric, as the report words it."""
    from crosstrain.report import verdict

    metric, cfg = settings.registry.metric, settings.report
    if predictions and metric == TEST_ACCURACY and a.framework in predictions and b.framework in predictions:
        _, ca, cb = verdict._aligned(task, a.framework, b.framework, predictions)
        outcome, text, winner, _ = verdict.accuracy_sentence(stats.crossed_difference(ca, cb), a.framework,
                                                             b.framework, cfg)
        return outcome, winner, f"{text} (the report's test: seeds x test examples)"
    # Seeds only: pair the runs by seed (seed s gave both frameworks the same weights and batches).
    mine, theirs = dict(a.per_seed), dict(b.per_seed)
    seeds = [s for s in mine if s in theirs]
    differences = [mine[s] - theirs[s] for s in seeds] if seeds else [a.score - b.score]
    est = stats.paired_t(differences)
    m = cfg.equivalence_margin
    basis = f"seeds-only paired t-test over {est.n} seed(s), no per-example predictions given"
    if not est.known:
        return ("inconclusive", None,
                f"{metric} inconclusive: {est.n} paired seed(s) give no variance ({basis})")
    outcome = stats.outcome(est.p_zero(), est.p_equivalent(-m, m), 1.0 - cfg.confidence)
    low, high = est.interval(cfg.confidence)
    shown = f"{a.framework} - {b.framework} {est.mean:+.4f} [{low:+.4f}, {high:+.4f}]"
    if outcome == "difference":
        winner = a.framework if est.mean > 0 else b.framework
        return outcome, winner, f"{winner} better on {metric}: {shown} ({basis})"
    if outcome == "equivalent":
        return outcome, None, f"{metric} equivalent within ±{m}: {shown} ({basis})"
    return outcome, None, f"{metric} inconclusive: {shown} ({basis})"


def pick_best(candidates: list[Candidate], settings: Settings | None = None, task: str = "",
              predictions: dict[str, list[dict[str, str]]] | None = None) -> tuple[Candidate, str]:
    """(the framework the gate weighs against the champion, why it and not the other).

    It follows the accuracy verdict (see `_accuracy_outcome`); "equivalent" or "inconclusive" goes to
    `register.tie_breaker`, and a tie there to the framework listed first.
    """
    settings = settings or Settings()
    options = [Option(c.framework, c.log_loss, c.macro_f1) for c in candidates]
    means = {c.framework: c.score for c in candidates}
    winner: str | None
    if len(candidates) == 1:
        outcome, winner, text = "difference", candidates[0].framework, ""
    else:
        outcome, winner, text = _accuracy_outcome(task, candidates[0], candidates[1], settings, predictions)
    framework, reason = choose(outcome, winner, text, options, means, settings.registry.tie_breaker)
    return next(c for c in candidates if c.framework == framework), reason


def read_predictions(files: dict[str, Path] | None) -> dict[str, list[dict[str, str]]] | None:
    """Each framework's predictions.csv rows, or None when none were given (or one is missing)."""
    import csv

    if not files:
        return None
    if not all(Path(p).is_file() for p in files.values()):
        missing = [str(p) for p in files.values() if not Path(p).is_file()]
        raise MissingInputError(f"{', '.join(missing)} not found: run the evaluate step first")
    out = {}
    for fw, path in files.items():
        with open(path, newline="") as handle:
            out[str(fw)] = list(csv.DictReader(handle))
    return out
