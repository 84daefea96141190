"""The evaluate step: every seed's trained model on the test split, with metrics both frameworks share.

    crosstrain evaluate --task iris --framework tensorflow

Writes `metrics/<task>/<framework>.json` (DVC metrics: one row per seed and their means) and
`plots/<task>/<framework>/` (every seed's per-epoch curves and test predictions, the confusion
matrix summed over seeds as JSON and PNG), and adds each seed's test metrics to its training run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from crosstrain import backends, devices, names, tracking
from crosstrain.config import Framework, Settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.errors import MissingInputError
from crosstrain.evaluation import latency
from crosstrain.evaluation import metrics as m
from crosstrain.io import atomic_dir, atomic_write_json, read_json
from crosstrain.resources import dir_size_mb
from crosstrain.tracking import Tracking
from crosstrain.training.loop import predict_in_chunks


def _write_plots(directory: Path, histories: dict[int, list[dict]], classes: list[str], y: np.ndarray,
                 predictions: dict[int, np.ndarray], matrix: np.ndarray, *, title: str) -> None:
    """Every seed's curves and test predictions as CSV (DVC plots, the report), the summed confusion as
    JSON/PNG."""
    with open(directory / names.HISTORY_CSV, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seed", "epoch", *names.EPOCH_METRICS, names.WALL_TIME])
        for seed, history in histories.items():
            wall = 0.0
            for epoch, stats in enumerate(history):
                wall += stats[names.EPOCH_TIME]
                figures = (f"{stats[k]:.6g}" for k in names.EPOCH_METRICS)
                writer.writerow([seed, epoch, *figures, f"{wall:.6g}"])
    with open(directory / names.PREDICTIONS_CSV, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seed", "index", "actual", "predicted"])
        for seed, pred in predictions.items():
            pairs = enumerate(zip(y, pred, strict=True))
            writer.writerows((seed, i, classes[a], classes[p]) for i, (a, p) in pairs)
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
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color)
    fig.tight_layout()
    fig.savefig(directory / "confusion.png", dpi=100)
    plt.close(fig)


# train.json figures copied into each seed's row of the metrics file.
TRAIN_FIGURES = (names.TRAIN_TIME, names.COMPILE_TIME, names.TRAIN_THROUGHPUT, names.STEP_TIME,
                 names.PEAK_RSS, names.TRAIN_RSS, names.PARAM_COUNT, names.FLOPS_PER_EXAMPLE,
                 names.ACHIEVED_FLOPS)


def _seed_info(task: str, framework: Framework, model_dir: Path, digest: str, prepared: Path) -> dict:
    info_path = model_dir / names.TRAIN_INFO_FILE
    if not info_path.exists():
        raise MissingInputError(
            f"{info_path} not found: run `crosstrain train --task {task} --framework {framework}`")
    info = read_json(info_path)
    if info["data_digest"] != digest:
        raise MissingInputError(
            f"{model_dir} was trained on data {info['data_digest'][:12]} but {prepared} holds "
            f"{digest[:12]}: retrain it (`dvc repro` does this)"
        )
    return info


def _fairness_record(task: str, framework: Framework, seed_dir: Path) -> dict:
    path = seed_dir / names.FAIRNESS_FILE
    if not path.exists():
        raise MissingInputError(
            f"{path} not found (trained by an older crosstrain?): retrain with "
            f"`crosstrain train --task {task} --framework {framework} --no-resume`")
    return read_json(path)


def evaluate(task: str, settings: Settings, framework: Framework, prepared: Path, model_dir: Path, *,
             metrics_file: Path, plots_dir: Path, tracker: Tracking | None = None) -> dict:
    """Evaluate every seed's trained model on the test split; returns what is written to `metrics_file`.

    Every seed is scored on the same test rows in the same order, so the report can pair the
    frameworks' predictions example by example.
    """
    framework = Framework(framework)
    tracker = tracker or tracking.tracker(settings.mlflow)
    meta = load_meta(prepared)
    test = load_split(prepared, "test")
    classes = meta["classes"]
    infos = {
        seed: _seed_info(task, framework, Path(model_dir) / names.seed_dir(seed), meta["digest"], prepared)
        for seed in settings.seeds
    }

    budget = devices.on_device(settings.train_for(task))  # the training runs' rule: both on one device
    backend = backends.get(framework)
    device = budget.device
    backend.configure(budget.threads, settings.seeds[0], device=device)
    runs, predictions, histories = [], {}, {}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for seed, info in infos.items():
        seed_dir = Path(model_dir) / names.seed_dir(seed)
        model = backend.place(backend.load(seed_dir), device)
        # Latency in the mode the model was trained in (eager or compiled; its precision is saved with it).
        predict = backend.make_predict(model, execution=budget.execution)
        logits = predict_in_chunks(predict, test)
        predictions[seed] = np.argmax(logits, axis=1)
        seed_matrix = m.confusion(test.y, predictions[seed], len(classes))
        matrix += seed_matrix
        histories[seed] = read_json(seed_dir / names.HISTORY_FILE)
        scores = {
            names.TEST_ACCURACY: m.accuracy(logits, test.y),
            names.TEST_MACRO_F1: m.macro_f1(seed_matrix),
            names.TEST_LOG_LOSS: m.cross_entropy(logits, test.y),
            **latency.measure(predict, test.x, settings.latency,
                              synchronize=lambda: backend.synchronize(device)),
            names.MODEL_SIZE: dir_size_mb(seed_dir),
        }
        runs.append({
            "seed": seed, "run_id": info["run_id"], "model_uri": info["model_uri"],
            names.FINAL_VAL_ACCURACY: info["final"].get(names.VAL_ACCURACY),
            "epochs": info["epochs"], **scores,
            **{k: info[k] for k in TRAIN_FIGURES if k in info},
            # What the training actually did (crosstrain.fairness): register and report compare these.
            "fairness": _fairness_record(task, framework, seed_dir),
        })
    numeric = [k for k, v in runs[0].items()
               if isinstance(v, float | int) and not isinstance(v, bool) and k != "seed"]
    result = {
        "task": task,
        "framework": str(framework),
        "mode": budget.mode,
        "threads": budget.threads,
        "seeds": list(infos),
        "test_rows": len(test),
        "runs": runs,
        "mean": {k: float(np.mean([r[k] for r in runs])) for k in numeric},
    }
    with atomic_dir(plots_dir) as tmp:
        _write_plots(tmp, histories, classes, test.y, predictions, matrix,
                     title=f"{task} / {framework} (all {len(infos)} seeds)")
        for run in runs:
            with tracker.resume_run(run["run_id"]):
                tracker.log_metrics({k: v for k, v in run.items() if k in numeric and isinstance(v, float)})
                tracker.log_artifacts(tmp, artifact_path=names.EVALUATION_ARTIFACTS)
        atomic_write_json(metrics_file, result)
    return result
