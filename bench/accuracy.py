"""Accuracy of the default models in both frameworks: the numbers the README's results table quotes.

    make bench-accuracy                                   # every task in bench/accuracy.yaml
    python bench/accuracy.py --tasks mnist5k,reviews      # a subset
    python bench/accuracy.py --params my.yaml --set tasks.fashion.limit=20000

Runs the real steps (`crosstrain ingest/validate/train/evaluate`, each a fresh process) in a
temporary directory with its own MLflow store, then prints task, framework, test accuracy, epochs
and train time, and whether the two frameworks agree within one accuracy point. Targets
(docs: README "Results"): Fashion-MNIST >= 0.91 within 10 epochs, MNIST-5k >= 0.95, fine-food >= 0.80.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TARGETS = {"fashion": 0.91, "mnist5k": 0.95, "reviews": 0.80}


def crosstrain(args: list[str], cwd: Path) -> None:
    exe = Path(sys.executable).parent / "crosstrain"
    result = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"crosstrain {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=HERE / "accuracy.yaml")
    parser.add_argument("--tasks", help="comma-separated subset of the params' tasks")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    parser.add_argument("--keep", action="store_true", help="keep the working directory and print its path")
    args = parser.parse_args()

    params = yaml.safe_load(args.params.read_text())
    tasks = (args.tasks.split(",") if args.tasks
             else [t for t, c in params["tasks"].items() if c.get("enabled", True)])
    work = Path(tempfile.mkdtemp(prefix="crosstrain-bench-"))
    shutil.copy(args.params, work / "params.yaml")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    sets = [x for o in args.overrides for x in ("--set", o)]
    rows = []
    for task in tasks:
        if task not in params["tasks"]:
            sys.exit(f"unknown task {task!r}: {args.params} defines {', '.join(params['tasks'])}")
        if params["tasks"][task]["source"].get("kind") == "mnist-idx":
            path = params["tasks"][task]["source"]["path"]
            if not Path(path).exists():
                print(f"skip {task}: {path} not found (apt-get install dataset-fashion-mnist)",
                      file=sys.stderr)
                continue
        start = time.time()
        crosstrain(["ingest", "--task", task, *sets], work)
        crosstrain(["validate", "--task", task, *sets], work)
        for fw in ("tensorflow", "pytorch"):
            crosstrain(["train", "--task", task, "--framework", fw, *sets], work)
            crosstrain(["evaluate", "--task", task, "--framework", fw, *sets], work)
            metrics = json.loads((work / "metrics" / task / f"{fw}.json").read_text())
            mean = metrics["mean"]
            rows.append((task, fw, mean["test_accuracy"], mean["epochs"], mean["train_time_s"]))
        print(f"{task}: done in {time.time() - start:.0f} s", file=sys.stderr)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"{'task':<10}{'framework':<12}{'test acc':>9}{'epochs':>8}{'train s':>10}  target")
    for task, fw, acc, epochs, seconds in rows:
        target = TARGETS.get(task)
        mark = "" if target is None else f">= {target:.2f} {'ok' if acc >= target else 'MISSED'}"
        print(f"{task:<10}{fw:<12}{acc:>9.4f}{epochs:>8}{seconds:>10.1f}  {mark}")
    by_task: dict[str, list[float]] = {}
    for task, _, acc, _, _ in rows:
        by_task.setdefault(task, []).append(acc)
    for task, accs in by_task.items():
        gap = abs(accs[0] - accs[1]) * 100
        print(f"{task}: TF - PT gap {gap:.2f} points ({'within' if gap <= 1 else 'OUTSIDE'} one point)")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
