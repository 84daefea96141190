"""Real artefacts for the report tests, in exactly the format the pipeline's steps write (see notes/spec6).

Each "framework" here is a small scikit-learn MLP really trained on real iris, one per seed, with a
real MLflow run per seed: the report only reads files and runs, so what produced the numbers does
not matter, only that they are real and shaped like evaluate's, measure's and export's output.
The slow end-to-end test uses `crosstrain train/evaluate` themselves.
"""

from __future__ import annotations

import csv
import json
import pickle
import time
from pathlib import Path

import numpy as np

from crosstrain import names
from crosstrain.config import LatencyConfig, MlflowConfig, Settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.evaluation import latency
from crosstrain.evaluation import metrics as m
from crosstrain.layout import Layout
from crosstrain.tracking import Tracker

SEEDS = (0, 1, 2)
FRAMEWORKS = ("tensorflow", "pytorch")
HIDDEN = {"tensorflow": (16,), "pytorch": (4,)}  # different models, so verdicts have something to find
QUICK_LATENCY = LatencyConfig(calls=30, warmup=3, throughput_batch=64, throughput_repeats=2)


def _train_seed(prepared: Path, framework: str, seed: int, epochs: int = 15):
    """A real MLP trained epoch by epoch; returns the model, its history rows and train.json-like info."""
    from sklearn.neural_network import MLPClassifier

    train, val = load_split(prepared, "train"), load_split(prepared, "val")
    classes = np.unique(train.y)
    model = MLPClassifier(hidden_layer_sizes=HIDDEN[framework], learning_rate_init=0.05, random_state=seed)
    history, wall = [], 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        model.partial_fit(train.x, train.y, classes=classes)
        wall += time.perf_counter() - start
        val_proba = model.predict_proba(val.x)
        history.append(
            {
                "seed": seed,
                "epoch": epoch,
                names.TRAIN_LOSS: model.loss_,
                names.TRAIN_ACCURACY: float(np.mean(model.predict(train.x) == train.y)),
                names.VAL_LOSS: m.cross_entropy(np.log(val_proba + 1e-12), val.y),
                names.VAL_ACCURACY: float(np.mean(val_proba.argmax(1) == val.y)),
                names.EPOCH_TIME: wall / (epoch + 1),
                names.LEARNING_RATE: 0.05,
                names.WALL_TIME: wall,
            }
        )
    params = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    info = {
        names.TRAIN_TIME: wall,
        names.COMPILE_TIME: 0.0,
        names.TRAIN_THROUGHPUT: epochs * len(train) / wall,
        names.STEP_TIME: 1000 * wall / epochs,
        names.PEAK_RSS: 300.0 + seed,
        names.TRAIN_RSS: 20.0 + seed,
        names.PARAM_COUNT: params,
        names.FLOPS_PER_EXAMPLE: 2 * params,
        names.ACHIEVED_FLOPS: 3 * 2 * params * epochs * len(train) / wall / 1e9,
        "epochs": epochs,
        "best_epoch": int(np.argmax([h[names.VAL_ACCURACY] for h in history])),
    }
    return model, history, info


def write_framework(
    root: Path, task: str, framework: str, prepared: Path, *, modes: bool, onnx: bool
) -> None:
    """metrics/<task>/<fw>.json, plots/<task>/<fw>/{history,predictions}.csv; optionally modes and ONNX."""
    layout = Layout(root)
    test = load_split(prepared, "test")
    classes = load_meta(prepared)["classes"]
    runs, history_rows, prediction_rows = [], [], []
    for seed in SEEDS:
        model, history, info = _train_seed(prepared, framework, seed)
        logits = np.log(model.predict_proba(test.x) + 1e-12)
        pred = logits.argmax(1)
        timing = latency.measure(lambda x, model=model: model.predict_proba(x), test.x, QUICK_LATENCY)
        tags = {
            names.TAG_TASK: task,
            names.TAG_FRAMEWORK: framework,
            names.TAG_SEED: seed,
            names.TAG_MODE: "eager-fp32",
            names.TAG_KIND: names.KIND_TRAINING,
        }
        result = {
            names.TEST_ACCURACY: m.accuracy(logits, test.y),
            names.TEST_MACRO_F1: m.macro_f1(m.confusion(test.y, pred, len(classes))),
            names.TEST_LOG_LOSS: m.cross_entropy(logits, test.y),
            names.MODEL_SIZE: len(pickle.dumps(model)) / 1e6,
            **timing,
            **info,
        }
        tracker = Tracker(MlflowConfig())
        name = f"{task}-{framework}-seed{seed}"
        with tracker.start_run(run_name=name, tags=tags, params={"seed": seed}) as run_id:
            tracker.log_metrics(result)
        runs.append({"seed": seed, "run_id": run_id, **result})
        history_rows += history
        prediction_rows += [
            {"seed": seed, "index": i, "actual": classes[a], "predicted": classes[p]}
            for i, (a, p) in enumerate(zip(test.y, pred, strict=True))
        ]
    metric_keys = [k for k in runs[0] if k not in ("seed", "run_id")]
    metrics = {
        "task": task,
        "framework": framework,
        "mode": "eager-fp32",
        "threads": 1,
        "seeds": list(SEEDS),
        "runs": runs,
        "mean": {k: float(np.mean([r[k] for r in runs])) for k in metric_keys},
    }
    _write_json(layout.metrics(task, framework), metrics)
    plots = layout.plots(task, framework)
    _write_csv(
        plots / names.HISTORY_CSV, ["seed", "epoch", *names.EPOCH_METRICS, names.WALL_TIME], history_rows
    )
    _write_csv(plots / names.PREDICTIONS_CSV, ["seed", "index", "actual", "predicted"], prediction_rows)
    if modes:
        _write_json(layout.modes(task, framework), _modes(task, framework, runs))
    if onnx:
        first = runs[0]
        _write_json(
            layout.onnx(task, framework),
            {
                "task": task,
                "framework": framework,
                "seed": first["seed"],
                "run_id": first["run_id"],
                "exported": True,
                "reason": None,
                "opset": 18,
                names.ONNX_MAX_ABS_DIFF: 3e-7,
                names.ONNX_SIZE: 0.01,
                **{
                    names.ONNX_PREFIX + k: v * 0.5
                    for k, v in first.items()
                    if k.startswith("latency") or k == names.THROUGHPUT
                },
            },
        )


def _modes(task: str, framework: str, runs: list[dict]) -> dict:
    """Mode entries with their own real MLflow runs (kind=mode); compiled-mixed marked unsupported."""
    entries = []
    for i, mode in enumerate(("eager-fp32", "compiled-fp32", "compiled-mixed")):
        execution, precision = mode.split("-")
        supported = mode != "compiled-mixed"
        tags = {
            names.TAG_TASK: task,
            names.TAG_FRAMEWORK: framework,
            names.TAG_MODE: mode,
            names.TAG_KIND: names.KIND_MODE,
        }
        numbers = {
            names.COMPILE_TIME: 0.1 * i,
            names.STEP_TIME: runs[0][names.STEP_TIME] / (i + 1),
            names.TRAIN_THROUGHPUT: runs[0][names.TRAIN_THROUGHPUT] * (i + 1),
            "loss_first": 1.1,
            "loss_last": 0.4,
            names.LATENCY_P50: runs[0][names.LATENCY_P50],
            names.LATENCY_P95: runs[0][names.LATENCY_P95],
            names.LATENCY_P99: runs[0][names.LATENCY_P99],
            names.THROUGHPUT: runs[0][names.THROUGHPUT],
        }
        run_id = None
        if supported:
            tracker = Tracker(MlflowConfig())
            with tracker.start_run(run_name=f"{task}-{framework}-{mode}", tags=tags, params={}) as run_id:
                tracker.log_metrics(numbers)
        entries.append(
            {
                "mode": mode,
                "execution": execution,
                "precision": precision,
                "supported": supported,
                "reason": None if supported else "not on this CPU",
                "run_id": run_id,
                **(numbers if supported else {}),
            }
        )
    return {
        "task": task,
        "framework": framework,
        "threads": 1,
        "steps": 30,
        "warmup_steps": 5,
        "modes": entries,
    }


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


TASKS = ("iris", "petals")  # two tasks (both iris data) so the report has more than one section


def report_settings(tasks: tuple[str, ...] = TASKS) -> Settings:
    """The tasks (iris data each), both frameworks, three seeds, a quick bootstrap."""
    return Settings.model_validate(
        {
            "seeds": list(SEEDS),
            "tasks": {t: {} for t in tasks},
            "report": {"bootstrap_samples": 2000},
        }
    )


def make_project(root: Path, prepared: Path, tasks: tuple[str, ...] = TASKS) -> Layout:
    """Every artefact the report reads: modes for tensorflow only, ONNX for pytorch only, no registry."""
    for task in tasks:
        for fw in FRAMEWORKS:
            write_framework(root, task, fw, prepared, modes=fw == "tensorflow", onnx=fw == "pytorch")
    return Layout(root)
