"""The evaluate step: a trained model on the test split, with metrics both frameworks share.

    crosstrain evaluate --task iris --framework tensorflow

Writes `metrics/<task>/<framework>.json` (DVC metrics) and `plots/<task>/<framework>/` (per-epoch
curves, predictions for a confusion plot, the confusion matrix as JSON and PNG), and adds the test
metrics to the training run in MLflow.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from crosstrain import backends, names
from crosstrain.config import Framework, Settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.errors import MissingInputError
from crosstrain.evaluation import metrics as m
from crosstrain.io import atomic_dir, atomic_write_json, read_json
from crosstrain.tracking import service
from crosstrain.training.loop import predict_in_chunks

LATENCY_WARMUP = 20
LATENCY_CALLS = 200


def batch1_latency(predict, x: np.ndarray) -> list[float]:
    """Seconds per single-example prediction, over LATENCY_CALLS calls after LATENCY_WARMUP warm-up calls."""
    rows = [np.ascontiguousarray(x[i % len(x)][None, ...]) for i in range(LATENCY_WARMUP + LATENCY_CALLS)]
    durations = []
    for i, row in enumerate(rows):
        start = time.perf_counter()
        predict(row)
        if i >= LATENCY_WARMUP:
            durations.append(time.perf_counter() - start)
    return durations


def _write_plots(directory: Path, history: list[dict], classes: list[str], y: np.ndarray, pred: np.ndarray,
                 matrix: np.ndarray, title: str) -> None:
    with open(directory / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *names.EPOCH_METRICS])
        for epoch, stats in enumerate(history):
            writer.writerow([epoch, *(f"{stats[k]:.6g}" for k in names.EPOCH_METRICS)])
    with open(directory / "predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip((classes[i] for i in y), (classes[i] for i in pred), strict=True))
    (directory / "confusion.json").write_text(
        json.dumps({"classes": classes, "matrix": matrix.tolist()}, indent=2) + "\n"
    )
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(directory / "confusion.png", dpi=100)
    plt.close(fig)


def evaluate(task: str, settings: Settings, framework: Framework, prepared: Path, model_dir: Path,
             metrics_file: Path, plots_dir: Path) -> dict:
    """Evaluate one trained model on the test split; returns the metrics written to `metrics_file`."""
    framework = Framework(framework)
    info_path = Path(model_dir) / names.TRAIN_INFO_FILE
    if not info_path.exists():
        raise MissingInputError(f"{info_path} not found: run `crosstrain train --task {task} --framework {framework}`")
    info = read_json(info_path)
    meta = load_meta(prepared)
    if info["data_digest"] != meta["digest"]:
        raise MissingInputError(
            f"{model_dir} was trained on data {info['data_digest'][:12]} but {prepared} holds "
            f"{meta['digest'][:12]}: retrain it (`dvc repro` does this)"
        )
    test = load_split(prepared, "test")
    classes = meta["classes"]

    backends.training(framework).configure(settings.train_for(task).threads, settings.seed)
    models = backends.models(framework)
    model = models.load(model_dir)
    predict = models.make_predict(model)
    logits = predict_in_chunks(predict, test)
    pred = np.argmax(logits, axis=1)
    matrix = m.confusion(test.y, pred, len(classes))
    p50, p95 = m.percentiles_ms(batch1_latency(predict, test.x))
    result = {
        "task": task,
        "framework": str(framework),
        names.TEST_ACCURACY: m.accuracy(logits, test.y),
        names.TEST_MACRO_F1: m.macro_f1(matrix),
        names.TEST_LOG_LOSS: m.cross_entropy(logits, test.y),
        names.TRAIN_TIME: info[names.TRAIN_TIME],
        names.LATENCY_P50: p50,
        names.LATENCY_P95: p95,
        names.PARAM_COUNT: info[names.PARAM_COUNT],
        "test_rows": len(test),
    }
    history = read_json(Path(model_dir) / names.HISTORY_FILE)
    with atomic_dir(plots_dir) as tmp:
        _write_plots(tmp, history, classes, test.y, pred, matrix, f"{task} / {framework}")
        with service.resume_run(settings.mlflow, info["run_id"]):
            service.log_metrics({k: v for k, v in result.items() if isinstance(v, float)})
            service.log_artifacts(tmp, artifact_path="evaluation")
        atomic_write_json(metrics_file, result)
    return result
