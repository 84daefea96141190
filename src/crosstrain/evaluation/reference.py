"""The classical reference: a scikit-learn linear model on the task's own split, scored like the deep models.

    crosstrain reference --task text

A comparison of two under-trained deep models answers nothing, so every task gets the model a
practitioner would try first, fitted on the same prepared train split and scored on the same test
rows with the same metric functions (`evaluation.metrics`) and latency timer (`evaluation.latency`):

- table: standardised features -> logistic regression;
- image: the pixels exactly as the deep models get them (`load_split`'s scaling), flattened ->
  logistic regression;
- text: TF-IDF of word uni- and bigrams -> logistic regression. Ingest keeps the raw texts in
  `<split>.parquet` beside the token ids, so the reference reads the whole texts, split into words by
  crosstrain's own tokenizer rule, with no vocabulary cap and no truncation (the deep models read the
  first `seq_len` ids of a `vocab_size` vocabulary): the bar a one-second model sets on the same rows.

The inverse regularisation strength C is picked from `REGULARISATION` by validation accuracy (ties:
the smaller C), as the deep models use the val split for early stopping; the test split is scored
once. Deterministic: lbfgs in one process, a fixed random_state, and the BLAS pools pinned to the
task's `train.threads` (threadpoolctl), the thread count the deep models train on.

Writes `metrics/<task>/reference.json` (a DVC metrics file: the scores at its top level, plus the test
predictions the report pairs with the deep models') atomically, and logs its own MLflow run tagged
`crosstrain.kind=reference`. Framework-neutral: nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import functools
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstrain import names, tracking
from crosstrain.config import Settings
from crosstrain.data.dataset import Split, load_meta, load_split
from crosstrain.data.text import TEXT_COLUMN
from crosstrain.data.tokenize import tokenize
from crosstrain.errors import MissingInputError
from crosstrain.evaluation import latency
from crosstrain.evaluation import metrics as m
from crosstrain.io import atomic_write_json
from crosstrain.tracking import Tracking, lineage

REGULARISATION = (0.1, 1.0, 10.0)  # logistic regression's C, chosen on the val split
MAX_ITER = 2000
RANDOM_STATE = 0
MODELS = {
    "table": ("logistic-regression", "standardised features + logistic regression"),
    "image": ("pixel-logistic-regression", "logistic regression on the pixels"),
    "text": ("tfidf-logistic-regression", "TF-IDF of word uni/bigrams (whole texts) + logistic regression"),
}
# The figures logged to MLflow and shown in the report's reference row.
SCORES = (names.TEST_ACCURACY, names.TEST_MACRO_F1, names.TEST_LOG_LOSS, names.TRAIN_TIME,
          names.LATENCY_P50, names.LATENCY_P95, names.LATENCY_P99, names.THROUGHPUT, names.PARAM_COUNT,
          names.MODEL_SIZE, names.VAL_ACCURACY)


def _first_column(x: np.ndarray) -> np.ndarray:
    """The texts of an (n, 1) object array: the 1-D sequence TfidfVectorizer reads."""
    return np.asarray(x)[:, 0]


def load_inputs(prepared: Path, meta: dict) -> dict[str, Split]:
    """Every split as the reference reads it: features (n, d), or texts as an (n, 1) object array.

    Labels and row order are evaluate's own (`load_split`); texts come from `<split>.parquet`, which
    ingest writes from the same rows in the same order as the token ids.
    """
    modality = meta.get("modality", "table")
    splits = {}
    for name in names.SPLITS:
        split = load_split(prepared, name)
        x = split.x.reshape(len(split), -1)
        if modality == "text":
            path = Path(prepared) / f"{name}.parquet"
            frame = pd.read_parquet(path) if path.exists() else pd.DataFrame()
            if TEXT_COLUMN not in frame or not np.array_equal(frame[names.LABEL_COLUMN].to_numpy(), split.y):
                raise MissingInputError(f"{path} lacks the raw texts of {name}.npz's rows: re-run "
                                        f"`crosstrain ingest --task {meta.get('task')}`")
            x = frame[TEXT_COLUMN].to_numpy(dtype=object).reshape(-1, 1)
        splits[name] = Split(x=x, y=split.y)
    return splits


def build(modality: str, c: float, lowercase: bool = True) -> Any:
    """The unfitted scikit-learn pipeline of a modality, with inverse regularisation strength `c`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    # No n_jobs: lbfgs fits one process (scikit-learn 1.8 made n_jobs a no-op here); its threads are
    # the BLAS pools `reference` pins.
    classifier = LogisticRegression(C=c, max_iter=MAX_ITER, random_state=RANDOM_STATE)
    if modality == "text":
        words = TfidfVectorizer(tokenizer=functools.partial(tokenize, lowercase=lowercase), lowercase=False,
                                token_pattern=None, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        return make_pipeline(FunctionTransformer(_first_column), words, classifier)
    if modality == "image":
        return make_pipeline(classifier)
    return make_pipeline(StandardScaler(), classifier)


def logits(model: Any, x: np.ndarray) -> np.ndarray:
    """Class scores whose softmax is the model's probabilities (a binary model's margin becomes [0, m])."""
    scores = np.asarray(model.decision_function(x), dtype=np.float64)
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


def fit(modality: str, splits: dict[str, Split], lowercase: bool = True) -> tuple[Any, dict, float]:
    """(the model of the C with the best val accuracy, the selection, seconds spent fitting every C).

    The clock covers the fits only, as the deep models' covers their optimiser steps only.
    """
    train, val = splits["train"], splits["val"]
    best, seconds, accuracies = None, 0.0, []
    for c in REGULARISATION:
        model = build(modality, c, lowercase)
        start = time.perf_counter()
        model.fit(train.x, train.y)
        seconds += time.perf_counter() - start
        accuracies.append(m.accuracy(logits(model, val.x), val.y))
        if best is None or accuracies[-1] > max(accuracies[:-1]):
            best = model
    chosen = REGULARISATION[accuracies.index(max(accuracies))]
    return best, {"C": list(REGULARISATION), "val_accuracy": accuracies, "chosen_C": chosen}, seconds


def score(model: Any, test: Split, n_classes: int, settings: Settings) -> tuple[dict[str, float], np.ndarray]:
    """(test metrics and batch-1 latency under the deep models' names, the test predictions)."""
    test_logits = logits(model, test.x)
    predicted = np.argmax(test_logits, axis=1)
    classifier = model[-1]
    scores = {
        names.TEST_ACCURACY: m.accuracy(test_logits, test.y),
        names.TEST_MACRO_F1: m.macro_f1(m.confusion(test.y, predicted, n_classes)),
        names.TEST_LOG_LOSS: m.cross_entropy(test_logits, test.y),
        # The whole pipeline per call: for text that includes tokenising and TF-IDF, which the deep
        # models' timings leave to ingest (they are timed from token ids).
        **latency.measure(lambda rows: logits(model, rows), test.x, settings.latency),
        names.PARAM_COUNT: int(classifier.coef_.size + classifier.intercept_.size),
        names.MODEL_SIZE: len(pickle.dumps(model)) / 1e6,
    }
    return scores, predicted


def _input(modality: str, meta: dict) -> str:
    """What the reference reads, beside what the deep models read (the report's evidence says it)."""
    if modality == "text":
        return (f"the reference reads whole texts; the deep models read the first {meta.get('seq_len')} "
                f"token ids of a {meta.get('vocab_size')}-entry vocabulary")
    return "the reference reads the same features as the deep models"


def reference(task: str, settings: Settings, prepared: Path, out_file: Path, *,
              tracker: Tracking | None = None) -> dict:
    """Fit and score the task's reference; write `out_file` and log one MLflow run; returns what is written.

    Args:
        task: A key of `tasks` in params (ConfigError listing them otherwise).
        settings: Validated params: `latency` for the timer, the task's `train.threads`, `mlflow`.
        prepared: The task's prepared splits (`crosstrain ingest`).
        out_file: metrics/<task>/reference.json, replaced only once everything succeeded.
        tracker: Where the run goes (default: params' store).
    """
    from sklearn import __version__ as sklearn_version
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    settings.task(task)
    tracker = tracker or tracking.tracker(settings.mlflow)
    meta = load_meta(prepared)
    modality = meta.get("modality", "table")
    splits = load_inputs(prepared, meta)
    threads = settings.train_for(task).threads
    with threadpool_limits(limits=threads):
        model, selection, seconds = fit(modality, splits, bool(meta.get("lowercase", True)))
        scores, predicted = score(model, splits["test"], len(meta["classes"]), settings)
    kind, description = MODELS[modality]
    best = selection["C"].index(selection["chosen_C"])
    scores |= {names.TRAIN_TIME: seconds, names.VAL_ACCURACY: selection["val_accuracy"][best]}
    result = {
        "task": task, "model": kind, "description": f"{description}, C={selection['chosen_C']:g}",
        "library": f"scikit-learn {sklearn_version}", "threads": threads, "selection": selection,
        "input": _input(modality, meta),
        "data_digest": meta["digest"], "test_rows": len(splits["test"]), "classes": meta["classes"],
        **scores,
        # Test row i's true and predicted class index, in evaluate's order: the report pairs these with
        # the deep models' predictions.csv example by example.
        "actual": splits["test"].y.tolist(), "predictions": predicted.tolist(),
    }
    tags = {names.TAG_TASK: task, names.TAG_FRAMEWORK: names.REFERENCE_FRAMEWORK, names.TAG_MODEL: kind,
            names.TAG_KIND: names.KIND_REFERENCE, names.TAG_DATA_DIGEST: lineage.data_digest(prepared)}
    params = {"model": kind, "C": selection["chosen_C"], "C_grid": selection["C"], "threads": threads,
              "max_iter": MAX_ITER, "random_state": RANDOM_STATE}
    with tracker.start_run(run_name=f"{task}-{names.REFERENCE}", tags=tags, params=params,
                           settings=settings) as run_id:
        tracker.log_metrics({k: float(v) for k, v in scores.items()})
        result["run_id"] = run_id
        atomic_write_json(out_file, result)
    return result
