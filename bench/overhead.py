"""crosstrain's train step against a bare, best-practice loop of the same framework: the overhead ratio.

    make bench-overhead                                   # iris MLP and images CNN, both frameworks
    python bench/overhead.py --tasks iris --repeats 9 --steps 100 --threads 2

Per framework (each in a fresh process) and task, two copies of the task's model are built by
crosstrain's models module from the same initial weights: one is trained by crosstrain's TrainStep
exactly as `crosstrain.training.loop.fit` drives it (numpy batch in, losses read at the end), the other
by the loop a framework user would write:

- PyTorch: the model, `torch.optim.Adam`, `nn.CrossEntropyLoss`, batches indexed from torch tensors,
  zero_grad / backward / step (pytorch/examples' mnist/main.py).
- TensorFlow: a `@tf.function` GradientTape step with keras Adam and sparse cross-entropy, batches
  gathered from tf tensors, `optimizer.apply` (the keras-io custom-training-loop guide).

Both run the same full batches (the epoch-0 order) with the same threads. Repeats interleave the two
(alternating which goes first); the ratio crosstrain / bare is taken per repeat and its median printed,
so machine noise that hits both halves of a repeat cancels. Target: <= 1.05.

The cost of `train.deterministic` is a third copy, crosstrain's TrainStep with determinism on (TF op
determinism / torch.use_deterministic_algorithms, switched on around its runs only), interleaved the
same way: the "det" column is its median ratio to crosstrain's step without determinism.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TASKS = ("iris", "images")
FRAMEWORKS = ("tensorflow", "pytorch")
TARGET = 1.05


def bare_pytorch(model, budget, train):
    """`run(batches) -> seconds`: the plain PyTorch loop."""
    import torch
    from torch import nn

    from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON

    optimizer = torch.optim.Adam(model.parameters(), lr=budget.learning_rate, betas=ADAM_BETAS,
                                 eps=ADAM_EPSILON)
    loss_fn = nn.CrossEntropyLoss()
    x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)

    def run(batches) -> float:
        indices = [torch.from_numpy(idx) for idx in batches]
        model.train()
        start = time.perf_counter()
        losses = []
        for idx in indices:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_all[idx]), y_all[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        [float(loss) for loss in losses]
        return time.perf_counter() - start

    return run


def bare_tensorflow(model, budget, train):
    """`run(batches) -> seconds`: the plain keras-io GradientTape loop."""
    import keras
    import tensorflow as tf

    from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON

    optimizer = keras.optimizers.Adam(learning_rate=budget.learning_rate, beta_1=ADAM_BETAS[0],
                                      beta_2=ADAM_BETAS[1], epsilon=ADAM_EPSILON)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_all, y_all = tf.constant(train.x), tf.constant(train.y)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    def run(batches) -> float:
        indices = [tf.constant(idx) for idx in batches]
        start = time.perf_counter()
        losses = [train_step(tf.gather(x_all, idx), tf.gather(y_all, idx)) for idx in indices]
        [float(loss) for loss in losses]
        return time.perf_counter() - start

    return run


def crosstrain_loop(step, train):
    """`run(batches) -> seconds`: crosstrain's TrainStep, called as `fit` calls it."""

    def run(batches) -> float:
        start = time.perf_counter()
        losses = [step(train.x[idx], train.y[idx], 1.0) for idx in batches]
        [float(loss) for loss in losses]
        return time.perf_counter() - start

    return run


def deterministic_loop(trainer, run):
    """`run` with the framework's determinism switched on for its duration only."""

    def timed(batches) -> float:
        trainer.set_deterministic(True)
        try:
            return run(batches)
        finally:
            trainer.set_deterministic(False)

    return timed


def worker(framework: str, tasks: list[str], params: Path, prepared_root: Path, repeats: int, steps: int,
           threads: int | None) -> dict:
    """Measure every task in this process; {task: {crosstrain_ms, bare_ms, ratios, ...}}."""
    from crosstrain import backends
    from crosstrain.config import load_settings
    from crosstrain.data.dataset import load_meta, load_split
    from crosstrain.models.spec import describe, initial_weights
    from crosstrain.perf.modes import mode_batches

    settings = load_settings(params, [])
    trainer, models = backends.training(framework), backends.models(framework)
    bare = {"pytorch": bare_pytorch, "tensorflow": bare_tensorflow}[framework]
    seed = settings.seeds[0]
    out = {}
    for task in tasks:
        spec, budget = settings.task(task).model, settings.train_for(task)
        threads_used = threads or budget.threads
        trainer.configure(threads_used, seed)
        meta, train = load_meta(prepared_root / task), load_split(prepared_root / task, "train")
        weights = initial_weights(spec, meta, seed)
        ours, theirs, det = (models.build_model(spec, meta) for _ in range(3))
        for model in (ours, theirs, det):
            models.set_weights(model, weights)
        trainer.set_deterministic(False)
        loops = {"crosstrain": crosstrain_loop(trainer.make_train_step(ours, budget, train.x[:1]), train),
                 "bare": bare(theirs, budget, train),
                 "deterministic": deterministic_loop(trainer, crosstrain_loop(
                     trainer.make_train_step(det, budget, train.x[:1]), train))}
        batches = mode_batches(len(train), budget.batch_size, seed, steps)
        for run in loops.values():
            run(batches[: min(len(batches), 5)])  # warm-up: tracing, allocator, caches
        times: dict[str, list[float]] = {name: [] for name in loops}
        for r in range(repeats):
            order = list(loops)[r % 3:] + list(loops)[:r % 3]  # each goes first in turn
            for name in order:
                times[name].append(loops[name](batches) / len(batches) * 1000.0)
        ratios = [a / b for a, b in zip(times["crosstrain"], times["bare"], strict=True)]
        det_ratios = [a / b for a, b in zip(times["deterministic"], times["crosstrain"], strict=True)]
        out[task] = {"model": describe(spec), "batch_size": budget.batch_size, "threads": threads_used,
                     "crosstrain_ms": statistics.median(times["crosstrain"]),
                     "bare_ms": statistics.median(times["bare"]), "ratio": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "deterministic_ms": statistics.median(times["deterministic"]),
                     "deterministic_ratio": statistics.median(det_ratios)}
    return out


def prepare(tasks: list[str], params: Path, prepared_root: Path | None) -> Path:
    """Where the tasks' prepared data is: `prepared_root` if given, else data/prepared, else ingested here."""
    from crosstrain.config import load_settings
    from crosstrain.data.ingest import ingest
    from crosstrain.layout import Layout

    if prepared_root is not None:
        return prepared_root
    existing = Layout().prepared(tasks[0]).parent
    if all((existing / task / "meta.json").exists() for task in tasks):
        return existing
    settings, root = load_settings(params, []), Path(tempfile.mkdtemp(prefix="crosstrain-overhead-"))
    for task in tasks:
        ingest(task, settings.task(task), settings.seed, root / task)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS), help="tasks of params to measure")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (median ratio)")
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps per timed repeat")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: params' train.threads)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared-root", type=Path, default=None,
                        help="prepared tasks (default: data/prepared if ingested, else a fresh ingest)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.tasks, args.params, args.prepared_root, args.repeats, args.steps,
                        args.threads)
        print(json.dumps(result))
        return

    started = time.time()
    root = prepare(args.tasks, args.params, args.prepared_root)
    results = {}
    for framework in args.frameworks:
        command = [sys.executable, __file__, "--worker", framework, "--tasks", *args.tasks,
                   "--repeats", str(args.repeats), "--steps", str(args.steps), "--params", str(args.params),
                   "--prepared-root", str(root), *(["--threads", str(args.threads)] if args.threads else [])]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{framework} worker failed:\n{out.stderr[-3000:]}")
        results[framework] = json.loads(out.stdout.strip().splitlines()[-1])

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\ncrosstrain TrainStep vs a bare loop: {args.steps} steps x {args.repeats} interleaved repeats, "
          f"median ratio ({time.time() - started:.0f} s)")
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}"
    print(f"machine: {machine}, python {platform.python_version()}")
    print(f"{'framework':<12}{'task':<8}{'model':<22}{'batch':>6}{'thr':>4}{'crosstrain ms':>15}"
          f"{'bare ms':>10}{'ratio':>8}{'range':>14}{'det':>7}  target <= {TARGET}")
    for framework, tasks in results.items():
        for task, r in tasks.items():
            verdict = "ok" if r["ratio"] <= TARGET else "MISS"
            print(f"{framework:<12}{task:<8}{r['model'][:21]:<22}{r['batch_size']:>6}{r['threads']:>4}"
                  f"{r['crosstrain_ms']:>15.3f}{r['bare_ms']:>10.3f}{r['ratio']:>8.3f}"
                  f"{r['ratio_min']:>7.2f}-{r['ratio_max']:<6.2f}{r['deterministic_ratio']:>7.3f}  {verdict}")


if __name__ == "__main__":
    main()
