"""The register step: put each framework's trained model in the MLflow Model Registry.

One registered model per task, `crosstrain-<task>`. Every run of this step adds one version per
framework (its seed with the best validation accuracy: the test split is not used to choose),
points the alias `<framework>` (`tensorflow`, `pytorch`) at it, and lets the champion gate
(crosstrain.tracking.gate) decide. The candidate framework follows the report's accuracy verdict:
with per-example predictions (the CLI passes them) the very same procedure over seeds x test
examples; without them (Kubeflow passes metrics only) a seeds-only paired t-test on the per-seed
scores, and the reason says which. "Equivalent" or "inconclusive" goes to `register.tie_breaker`.
The candidate must reach the task's min_score and beat the current champion by `register.min_delta`
in a one-sided Welch t-test. The decision and its reason are tags on the version.
Load the winner with `mlflow.pyfunc.load_model("models:/crosstrain-iris@champion")`.

    crosstrain register --task iris
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrain.config import Settings
from crosstrain.errors import CrosstrainError, MissingInputError, TrackingError
from crosstrain.evaluation import stats
from crosstrain.evaluation.stats import Interval, mean_ci
from crosstrain.fairness import compare
from crosstrain.io import atomic_write_json, read_json
from crosstrain.names import (
    CHAMPION_ALIAS,
    FINAL_VAL_ACCURACY,
    TAG_FRAMEWORK,
    TAG_SEED,
    TAG_TASK,
    TEST_ACCURACY,
    TEST_LOG_LOSS,
    TEST_MACRO_F1,
    registered_model_name,
)
from crosstrain.tracking import service
from crosstrain.tracking.gate import Option, Scores, Verdict, choose, decide

log = logging.getLogger(__name__)

RUN_KEYS = ("run_id", "model_uri")
# Tags on every version: the interval its framework's seeds gave, so a later gate can compare with it.
TAG_GATE_METRIC = "crosstrain.gate.metric"
TAG_GATE_MEAN, TAG_GATE_LOW, TAG_GATE_HIGH, TAG_GATE_N = (
    "crosstrain.gate.mean", "crosstrain.gate.low", "crosstrain.gate.high", "crosstrain.gate.seeds")
TAG_GATE_SD = "crosstrain.gate.sd"  # the seeds' sample sd: what the next round's Welch test needs
TAG_GATE_DECISION, TAG_GATE_REASON = "crosstrain.gate.decision", "crosstrain.gate.reason"


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
        return self.interval.mean

    @property
    def scores(self) -> Scores:
        return Scores.of([value for _, value in self.per_seed] or [self.score])


# --- inputs: all read and checked before the registry is touched ---------------------------------


def _load(path: Path, step: str) -> dict[str, Any]:
    """A JSON object from an earlier step's output, or an error saying which step to run."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run {step} first")
    try:
        data = read_json(path)
    except json.JSONDecodeError as err:
        raise CrosstrainError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}); rerun {step}"
        ) from None
    if not isinstance(data, dict):
        raise CrosstrainError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _finite(value: Any) -> bool:
    # bool is an int subclass; a JSON true is no score.
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _candidate(task: str, framework: str, metric_file: Path, metric: str, settings: Settings) -> Candidate:
    metrics = _load(metric_file, f"the evaluate step for {task}/{framework}")
    # evaluate records whose metrics these are: catch a file copied from another task or framework.
    for key, expected in (("task", task), ("framework", framework)):
        if metrics.get(key) != expected:
            raise CrosstrainError(f"{metric_file} is for {key} {metrics.get(key)!r}, not {expected!r}")
    runs = metrics.get("runs")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise CrosstrainError(f"{metric_file}: 'runs' must be a non-empty list of per-seed results; rerun evaluate")
    for i, run in enumerate(runs):
        for key in RUN_KEYS:
            if not isinstance(run.get(key), str) or not run[key]:
                raise CrosstrainError(f"{metric_file}: runs[{i}].{key} is missing or not a string")
        if not _finite(run.get(metric)):
            raise CrosstrainError(
                f"{metric_file}: runs[{i}].{metric} (register.metric) is {run.get(metric)!r}, not a finite number")
    interval = mean_ci([float(r[metric]) for r in runs], settings.report.confidence,
                       settings.report.bootstrap_samples)
    # The version to register: the best seed on validation data (max keeps the first of equals).
    chosen = max(runs, key=lambda r: r[FINAL_VAL_ACCURACY] if _finite(r.get(FINAL_VAL_ACCURACY)) else -math.inf)
    losses = [float(r[TEST_LOG_LOSS]) for r in runs if _finite(r.get(TEST_LOG_LOSS))]
    f1s = [float(r[TEST_MACRO_F1]) for r in runs if _finite(r.get(TEST_MACRO_F1))]
    seed = chosen.get("seed")
    return Candidate(framework, chosen["run_id"], chosen["model_uri"], seed if isinstance(seed, int) else None,
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
    est = stats.paired_t([mine[s] - theirs[s] for s in seeds]) if seeds else stats.paired_t([a.score - b.score])
    m = cfg.equivalence_margin
    basis = f"seeds-only paired t-test over {est.n} seed(s), no per-example predictions given"
    if not est.known:
        return "inconclusive", None, f"{metric} inconclusive: {est.n} paired seed(s) give no variance ({basis})"
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
    if len(candidates) == 1:
        outcome, winner, text = "difference", candidates[0].framework, ""
    else:
        outcome, winner, text = _accuracy_outcome(task, candidates[0], candidates[1], settings, predictions)
    framework, reason = choose(outcome, winner, text, options, means, settings.registry.tie_breaker)
    return next(c for c in candidates if c.framework == framework), reason


def _read_predictions(files: dict[str, Path] | None) -> dict[str, list[dict[str, str]]] | None:
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


# --- the registry ---------------------------------------------------------------------------------


def _model_id(model_uri: str) -> str | None:
    """The logged-model id in an MLflow 3 `models:/m-...` URI; None for other URIs."""
    rest = model_uri.removeprefix("models:/")
    if rest != model_uri and rest and "/" not in rest and "@" not in rest:
        return rest
    return None


def _ensure_registered_model(client, name: str, task: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    description = (
        f"crosstrain's {task} classifier, trained the same way in TensorFlow and PyTorch. "
        f"Aliases: `tensorflow` and `pytorch` mark each framework's latest version, "
        f"`{CHAMPION_ALIAS}` the best one that reached the minimum score."
    )
    try:
        # Create-and-catch rather than look-then-create: two register steps may race.
        client.create_registered_model(name, tags={TAG_TASK: task}, description=description)
        log.info("created registered model %s", name)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _register_version(client, name: str, task: str, metric: str, candidate: Candidate) -> str:
    """Add one version, tagged with its interval, and point the framework's alias at it."""
    interval = candidate.interval
    tags = {TAG_FRAMEWORK: candidate.framework, TAG_TASK: task, metric: repr(candidate.score),
            TAG_GATE_METRIC: metric, TAG_GATE_MEAN: repr(interval.mean), TAG_GATE_LOW: repr(interval.low),
            TAG_GATE_HIGH: repr(interval.high), TAG_GATE_N: str(interval.n),
            TAG_GATE_SD: repr(candidate.scores.sd)}
    if candidate.seed is not None:
        tags[TAG_SEED] = str(candidate.seed)
    # The client call, not mlflow.register_model: only it records our run_id for a models:/m-... URI
    # (register_model leaves it to the store), and it prints nothing to stderr.
    created = client.create_model_version(
        name=name,
        source=candidate.model_uri,
        run_id=candidate.run_id,
        tags=tags,
        model_id=_model_id(candidate.model_uri),
    )
    version = str(created.version)
    client.set_registered_model_alias(name, candidate.framework, version)
    log.info("registered %s v%s: %s, %s %.4f", name, version, candidate.framework, metric, candidate.score)
    return version


def current_champion(client, name: str, metric: str) -> tuple[Any, Scores | None]:
    """(the champion version or None, its scores on `metric` or None when it has none recorded).

    Versions registered before the Welch gate carry no sd (their interval was a bootstrap, whose width
    says little about the spread): their spread counts as unknown. Older ones carry only `<metric>`.
    """
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None, None
    tags = version.tags
    if tags.get(TAG_GATE_METRIC) == metric and TAG_GATE_MEAN in tags:
        sd = float(tags.get(TAG_GATE_SD, "nan"))
        return version, Scores(float(tags[TAG_GATE_MEAN]), sd, int(tags[TAG_GATE_N]) if math.isfinite(sd) else 1)
    if metric in tags:
        return version, Scores(float(tags[metric]), math.nan, 1)
    return version, None


def register(task: str, settings: Settings, metric_files: dict[str, Path], out_file: Path,
             prediction_files: dict[str, Path] | None = None) -> dict:
    """Register each framework's model for `task` and run the champion gate; write and return the summary.

    Args:
        task: The task whose models to register.
        settings: The validated params; uses `frameworks`, `registry` (params' `register`), `report`
            (the confidence level) and `mlflow`.
        metric_files: Framework name -> the evaluate step's metrics JSON (every seed's run).
        out_file: Where to write the summary (registry.json), once registration succeeded.
        prediction_files: Framework name -> its predictions.csv (seed, index, actual, predicted), for
            the report's own accuracy test over seeds x test examples; without them (Kubeflow) the
            frameworks are compared by a seeds-only paired t-test, as the gate's reason says.

    Returns:
        `{"model", "metric", "min_score", "min_delta", "versions": {fw: {"version", "run_id", "seed",
        "score", "low", "high", "seeds"}}, "candidate": fw, "gate": {"decision", "reason"},
        "champion": {"framework", "version", "score"} or None, "decision"}`.

    Raises:
        MissingInputError: A metrics file does not exist; nothing is registered.
        CrosstrainError: An input is malformed, lacks the metric or is for another task.
        TrackingError: The tracking server or registry failed.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    candidates = read_candidates(task, settings, metric_files)
    metric, min_score, min_delta = settings.registry.metric, settings.min_score_for(task), settings.registry.min_delta
    name = registered_model_name(task)
    predictions = _read_predictions(prediction_files)
    best, choice = pick_best(candidates, settings, task, predictions)
    # The same fairness audit as the report: an unfair comparison registers the versions but never
    # moves `champion` (decision "rejected", the differences as the reason).
    differences = compare.differences(task, {fw: compare.records_of(read_json(path))
                                             for fw, path in metric_files.items()})
    unfair: str | None = "; ".join(differences) if differences else None

    uri = service.tracking_uri(settings.mlflow)
    service.connect(settings.mlflow)
    try:
        client = MlflowClient()
        _ensure_registered_model(client, name, task)
        previous, previous_interval = current_champion(client, name, metric)
        if unfair is not None:
            verdict = Verdict("rejected", f"{choice}; {unfair}")
        else:
            gate = decide(metric, best.scores, previous_interval, min_score, min_delta, settings.report.confidence)
            verdict = Verdict(gate.decision, f"{choice}; {gate.reason}" if choice else gate.reason)
        versions = {c.framework: _register_version(client, name, task, metric, c) for c in candidates}
        client.set_model_version_tag(name, versions[best.framework], TAG_GATE_DECISION, verdict.decision)
        client.set_model_version_tag(name, versions[best.framework], TAG_GATE_REASON, verdict.reason)
        if verdict.promote:
            client.set_registered_model_alias(name, CHAMPION_ALIAS, versions[best.framework])
    except MlflowException as err:
        raise TrackingError(f"MLflow registry at {uri!r} failed for {name}: {err.message}") from None
    except OSError as err:
        raise TrackingError(f"MLflow registry at {uri!r} is unreachable: {err}") from None

    if verdict.promote:
        champion = {"framework": best.framework, "version": versions[best.framework], "score": best.score}
        decision = f"{best.framework} is champion: {verdict.reason}"
    elif previous is not None:
        champion = {"framework": previous.tags.get(TAG_FRAMEWORK), "version": str(previous.version),
                    "score": previous_interval.mean if previous_interval else None}
        decision = f"champion stays v{previous.version}: {best.framework} {verdict.reason}"
    else:
        champion = None
        decision = f"no champion: {best.framework} {verdict.reason}"
    (log.info if verdict.promote else log.warning)("%s: %s", name, decision)
    summary = {
        "model": name,
        "metric": metric,
        "min_score": min_score,
        "min_delta": min_delta,
        "versions": {
            c.framework: {"version": versions[c.framework], "run_id": c.run_id, "seed": c.seed,
                          "score": c.score, "low": c.interval.low, "high": c.interval.high,
                          "seeds": c.interval.n}
            for c in candidates
        },
        "candidate": best.framework,
        "gate": {"decision": verdict.decision, "reason": verdict.reason},
        "champion": champion,
        "decision": decision,
    }
    atomic_write_json(out_file, summary)
    return summary
