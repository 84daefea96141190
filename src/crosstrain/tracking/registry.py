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

import logging
import math
from pathlib import Path
from typing import Any

from crosstrain.config import Settings
from crosstrain.errors import TrackingError
from crosstrain.fairness import compare
from crosstrain.io import atomic_write_json, read_json
from crosstrain.names import CHAMPION_ALIAS, TAG_FRAMEWORK, TAG_SEED, TAG_TASK, registered_model_name
from crosstrain.tracking.candidates import Candidate, pick_best, read_candidates, read_predictions
from crosstrain.tracking.client import RetryingClient
from crosstrain.tracking.gate import Scores, Verdict, decide
from crosstrain.tracking.retry import TrackingRefused
from crosstrain.tracking.tracker import Tracker

__all__ = ["Candidate", "current_champion", "pick_best", "read_candidates", "register"]
log = logging.getLogger(__name__)

# Tags on every version: the interval its framework's seeds gave, so a later gate can compare with it.
TAG_GATE_METRIC = "crosstrain.gate.metric"
TAG_GATE_MEAN, TAG_GATE_LOW, TAG_GATE_HIGH, TAG_GATE_N = (
    "crosstrain.gate.mean", "crosstrain.gate.low", "crosstrain.gate.high", "crosstrain.gate.seeds")
TAG_GATE_SD = "crosstrain.gate.sd"  # the seeds' sample sd: what the next round's Welch test needs
TAG_GATE_DECISION, TAG_GATE_REASON = "crosstrain.gate.decision", "crosstrain.gate.reason"


def _model_id(model_uri: str) -> str | None:
    """The logged-model id in an MLflow 3 `models:/m-...` URI; None for other URIs."""
    rest = model_uri.removeprefix("models:/")
    if rest != model_uri and rest and "/" not in rest and "@" not in rest:
        return rest
    return None


def _ensure_registered_model(client: RetryingClient, name: str, task: str) -> None:
    description = (
        f"crosstrain's {task} classifier, trained the same way in TensorFlow and PyTorch. "
        f"Aliases: `tensorflow` and `pytorch` mark each framework's latest version, "
        f"`{CHAMPION_ALIAS}` the best one that reached the minimum score."
    )
    try:
        # Create-and-catch rather than look-then-create: two register steps may race.
        client.create_registered_model(name, tags={TAG_TASK: task}, description=description)
        log.info("created registered model %s", name)
    except TrackingRefused as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _register_version(client: RetryingClient, name: str, task: str, metric: str, candidate: Candidate) -> str:
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


def current_champion(client: RetryingClient, name: str, metric: str) -> tuple[Any, Scores | None]:
    """(the champion version or None, its scores on `metric` or None when it has none recorded).

    Versions registered before the Welch gate carry no sd (their interval was a bootstrap, whose width
    says little about the spread): their spread counts as unknown. Older ones carry only `<metric>`.
    """
    try:
        version = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except TrackingRefused:
        return None, None
    tags = version.tags
    if tags.get(TAG_GATE_METRIC) == metric and TAG_GATE_MEAN in tags:
        sd = float(tags.get(TAG_GATE_SD, "nan"))
        n = int(tags[TAG_GATE_N]) if math.isfinite(sd) else 1
        return version, Scores(float(tags[TAG_GATE_MEAN]), sd, n)
    if metric in tags:
        return version, Scores(float(tags[metric]), math.nan, 1)
    return version, None


def register(task: str, settings: Settings, metric_files: dict[str, Path], out_file: Path,
             prediction_files: dict[str, Path] | None = None, tracker: Tracker | None = None) -> dict:
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
    candidates = read_candidates(task, settings, metric_files)
    metric, min_delta = settings.registry.metric, settings.registry.min_delta
    min_score = settings.min_score_for(task)
    name = registered_model_name(task)
    predictions = read_predictions(prediction_files)
    best, choice = pick_best(candidates, settings, task, predictions)
    # The same fairness audit as the report: an unfair comparison registers the versions but never
    # moves `champion` (decision "rejected", the differences as the reason).
    differences = compare.differences(task, {fw: compare.records_of(read_json(path))
                                             for fw, path in metric_files.items()})
    unfair: str | None = "; ".join(differences) if differences else None

    tracker = tracker or Tracker(settings.mlflow)
    tracker.experiment_id()
    try:
        client = tracker.client()
        _ensure_registered_model(client, name, task)
        previous, previous_interval = current_champion(client, name, metric)
        if unfair is not None:
            verdict = Verdict("rejected", f"{choice}; {unfair}")
        else:
            gate = decide(metric, best.scores, previous_interval, min_score, min_delta,
                          settings.report.confidence)
            verdict = Verdict(gate.decision, f"{choice}; {gate.reason}" if choice else gate.reason)
        versions = {c.framework: _register_version(client, name, task, metric, c) for c in candidates}
        client.set_model_version_tag(name, versions[best.framework], TAG_GATE_DECISION, verdict.decision)
        client.set_model_version_tag(name, versions[best.framework], TAG_GATE_REASON, verdict.reason)
        if verdict.promote:
            client.set_registered_model_alias(name, CHAMPION_ALIAS, versions[best.framework])
    except TrackingRefused as err:
        raise TrackingError(f"MLflow registry at {tracker.uri!r} failed for {name}: {err.reason}") from None
    except OSError as err:
        raise TrackingError(f"MLflow registry at {tracker.uri!r} is unreachable: {err}") from None

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
