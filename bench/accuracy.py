"""Accuracy of the default models in both frameworks: the numbers the README's results table quotes.

    make bench-accuracy                                   # every enabled task in bench/accuracy.yaml
    python bench/accuracy.py --tasks mnist5k,reviews      # a subset
    python bench/accuracy.py --text-tsv news.tsv          # also a multi-class text TSV (text, label columns)
    python bench/accuracy.py --params my.yaml --set tasks.fashion.limit=20000
    python bench/accuracy.py --dry-run --tasks reviews    # smallest mode: 1 epoch, a few rows (smoke)

Runs the real steps (`crosstrain ingest/validate/reference/train/evaluate`, each a fresh process) in
a temporary directory with its own MLflow store, then prints per task and framework the test
accuracy, the classical reference's test accuracy on the same prepared split (`crosstrain
reference`: scikit-learn logistic regression, `crosstrain.evaluation.reference`), epochs, train time
and the task's target with pass/miss, and whether the two frameworks agree within one accuracy point.
Targets (issue 16): Fashion-MNIST >= 0.91 within 10 epochs, MNIST-5k >= 0.95, the fine-food reviews
(BiLSTM and Transformer) >= the reference, a text TSV given with --text-tsv >= the reference; a
"ref" target is read from the row's reference column.
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
REFERENCE = "ref"  # a target that is the row's reference column
TSV_TASK = "text-tsv"  # accuracy.yaml's template task that --text-tsv fills in
TARGETS: dict[str, float | str] = {"fashion": 0.91, "mnist5k": 0.95, "reviews": REFERENCE,
                                   "reviews-transformer": REFERENCE, TSV_TASK: REFERENCE}
FRAMEWORKS = ("tensorflow", "pytorch")
# --dry-run: every selected task at this many training rows, one epoch, a short latency timer.
DRY_LIMIT = 300
DRY_LATENCY = {"calls": 5, "warmup": 1, "throughput_batch": 32, "throughput_repeats": 1}


def crosstrain(args: list[str], cwd: Path) -> None:
    exe = Path(sys.executable).parent / "crosstrain"
    result = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"crosstrain {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def target_of(task: str, reference: float) -> float | None:
    """The accuracy a task's rows must reach: a fixed bar, the reference's accuracy, or None (no target)."""
    target = TARGETS.get(task)
    return reference if target == REFERENCE else target


def verdict(task: str, accuracy: float, reference: float) -> str:
    """The row's target and pass/miss, e.g. '>= 0.91 pass' or '>= ref 0.8010 miss'; '' without a target."""
    target = target_of(task, reference)
    if target is None:
        return ""
    bar = f"ref {target:.4f}" if TARGETS[task] == REFERENCE else f"{target:.2f}"
    return f">= {bar} {'pass' if accuracy >= target else 'miss'}"


Row = tuple[str, str, float, float, int, float]  # task, framework, test acc, reference acc, epochs, train s


def table(rows: list[Row]) -> list[str]:
    """The printed table: a header, then one line per row with its target and pass/miss."""
    header = f"{'task':<20}{'framework':<12}{'test acc':>9}{'reference':>10}{'epochs':>8}{'train s':>10}"
    lines = [f"{header}  target"]
    for task, fw, acc, ref, epochs, seconds in rows:
        lines.append(f"{task:<20}{fw:<12}{acc:>9.4f}{ref:>10.4f}{epochs:>8g}{seconds:>10.1f}  "
                     f"{verdict(task, acc, ref)}".rstrip())
    return lines


def dry(params: dict, tasks: list[str]) -> dict:
    """The params of the smallest mode: each task on DRY_LIMIT training rows for one epoch."""
    for task in tasks:
        config = params["tasks"][task]
        config["limit"] = min(config.get("limit") or DRY_LIMIT, DRY_LIMIT)
        config.setdefault("train", {})["epochs"] = 1
    params["latency"] = {**params.get("latency", {}), **DRY_LATENCY}
    return params


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=HERE / "accuracy.yaml")
    parser.add_argument("--tasks", help="comma-separated subset of the params' tasks")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    parser.add_argument("--keep", action="store_true", help="keep the working directory and print its path")
    parser.add_argument("--text-tsv", type=Path, metavar="PATH",
                        help=f"a multi-class text TSV (columns text, label): adds task {TSV_TASK}, "
                             "target >= the reference")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"smallest mode: {DRY_LIMIT} training rows, 1 epoch per task (checks the "
                             "script, not the accuracy)")
    return parser.parse_args()


def selected(params: dict, args: argparse.Namespace) -> list[str]:
    """The tasks to run (--tasks, or every enabled one), --text-tsv's file filled in; exits on a bad name."""
    if args.text_tsv:
        if TSV_TASK not in params["tasks"]:
            sys.exit(f"{args.params} has no {TSV_TASK} task for --text-tsv to fill in")
        params["tasks"][TSV_TASK]["source"]["path"] = str(args.text_tsv.resolve())
        params["tasks"][TSV_TASK]["enabled"] = True
    tasks = (args.tasks.split(",") if args.tasks
             else [t for t, c in params["tasks"].items() if c.get("enabled", True)])
    for task in tasks:
        if task not in params["tasks"]:
            sys.exit(f"unknown task {task!r}: {args.params} defines {', '.join(params['tasks'])}")
        if not params["tasks"][task].get("enabled", True):
            hint = " (give its file with --text-tsv)" if task == TSV_TASK else ""
            sys.exit(f"task {task!r} is disabled in {args.params}{hint}")
    return tasks


def run_task(task: str, work: Path, sets: list[str]) -> list[Row]:
    """Ingest, validate, fit the reference, train and evaluate both frameworks: one row per framework."""
    crosstrain(["ingest", "--task", task, *sets], work)
    crosstrain(["validate", "--task", task, *sets], work)
    # The reference: crosstrain's own scikit-learn model (evaluation.reference), on the split just prepared.
    crosstrain(["reference", "--task", task, *sets], work)
    reference = json.loads((work / "metrics" / task / "reference.json").read_text())["test_accuracy"]
    rows = []
    for fw in FRAMEWORKS:
        crosstrain(["train", "--task", task, "--framework", fw, *sets], work)
        crosstrain(["evaluate", "--task", task, "--framework", fw, *sets], work)
        mean = json.loads((work / "metrics" / task / f"{fw}.json").read_text())["mean"]
        rows.append((task, fw, mean["test_accuracy"], reference, mean["epochs"], mean["train_time_s"]))
    return rows


def main() -> None:
    args = arguments()
    params = yaml.safe_load(args.params.read_text())
    tasks = selected(params, args)
    if args.dry_run:
        params = dry(params, tasks)
    work = Path(tempfile.mkdtemp(prefix="crosstrain-bench-"))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    sets = [x for o in args.overrides for x in ("--set", o)]
    rows: list[Row] = []
    for task in tasks:
        if params["tasks"][task]["source"].get("kind") == "mnist-idx":
            path = params["tasks"][task]["source"]["path"]
            if not Path(path).exists():
                print(f"skip {task}: {path} not found (apt-get install dataset-fashion-mnist)",
                      file=sys.stderr)
                continue
        start = time.time()
        rows += run_task(task, work, sets)
        print(f"{task}: done in {time.time() - start:.0f} s", file=sys.stderr)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
          + (f"; --dry-run ({DRY_LIMIT} rows, 1 epoch): not accuracy figures" if args.dry_run else ""))
    print("\n".join(table(rows)))
    by_task: dict[str, list[float]] = {}
    for task, _, acc, *_ in rows:
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
