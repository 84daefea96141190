"""crosstrain against plain PyTorch and plain Keras: its train step's overhead and its models' speed.

    make bench-overhead                   # mlp/iris, cnn/images, bilstm/text, transformer/text
    python bench/overhead.py --cases cnn/images --repeats 9 --steps 100 --threads 2

A case is ARCH/TASK: the task's data and train budget, with the task's model if it is of that kind, else
that kind's default spec (the text task trains a BiLSTM; transformer/text gives it a Transformer).

Per framework (each in a fresh process) and case, four loops train from the same initial weights:

- "crosstrain": crosstrain's model, trained by crosstrain's TrainStep exactly as
  `crosstrain.training.loop.fit` drives it (numpy batch in, losses read at the end);
- "bare": the same crosstrain model, trained by the loop a framework user would write: PyTorch: the model,
  `torch.optim.Adam`, `nn.CrossEntropyLoss`, batches indexed from torch tensors, zero_grad / backward / step
  (pytorch/examples' mnist/main.py); TensorFlow: a `@tf.function` GradientTape step with keras Adam and
  sparse cross-entropy, batches gathered from tf tensors, `optimizer.apply` (keras-io's custom training loop);
- "stock": the stock model a framework tutorial would write for the same architecture (bench/stock_torch.py,
  bench/stock_keras.py), trained by that same bare loop; before timing, the bench checks that it computes
  crosstrain's logits from the same weights (so it is the same function, not a smaller model);
- "deterministic": crosstrain's TrainStep with `train.deterministic` on (TF op determinism /
  torch.use_deterministic_algorithms, switched on around its runs only).

All run the same full batches (the epoch-0 order, 32 examples unless --batch-size says otherwise: the
size issue 12 measured at) with the same threads. Repeats interleave the loops (each goes first in turn);
every ratio is taken per repeat and its median printed, so machine noise that hits a
whole repeat cancels. Columns: "step" = crosstrain / bare (the TrainStep's overhead), "model" = bare / stock
(crosstrain's model against the stock one), "total" = crosstrain / stock, "det" = deterministic / crosstrain.
Target: step and model <= 1.05.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CASES = ("mlp/iris", "cnn/images", "bilstm/text", "transformer/text")
FRAMEWORKS = ("tensorflow", "pytorch")
TARGET = 1.05


def bare_pytorch(model, budget, x, y):
    """`run(batches) -> seconds`: the plain PyTorch loop on inputs `x` (in the model's layout), labels `y`."""
    import torch
    from torch import nn

    from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON

    optimizer = torch.optim.Adam(model.parameters(), lr=budget.learning_rate, betas=ADAM_BETAS,
                                 eps=ADAM_EPSILON)
    loss_fn = nn.CrossEntropyLoss()
    x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)

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


def bare_tensorflow(model, budget, x, y):
    """`run(batches) -> seconds`: the plain keras-io GradientTape loop on inputs `x`, labels `y`."""
    import keras
    import tensorflow as tf

    from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON

    optimizer = keras.optimizers.Adam(learning_rate=budget.learning_rate, beta_1=ADAM_BETAS[0],
                                      beta_2=ADAM_BETAS[1], epsilon=ADAM_EPSILON)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_all, y_all = tf.constant(x), tf.constant(y)

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


def deterministic_loop(backend, run):
    """`run` with the framework's determinism switched on for its duration only."""

    def timed(batches) -> float:
        backend.set_deterministic(True)
        try:
            return run(batches)
        finally:
            backend.set_deterministic(False)

    return timed


def case_spec(case: str, params: Path, batch_size: int | None = None):
    """(task, model spec, train budget, seed) of an ARCH/TASK case (a bare TASK: the task's own model);
    `batch_size` replaces the budget's."""
    from crosstrain.config import load_settings

    arch, _, task = case.rpartition("/")
    settings = load_settings(params, [])
    if arch and settings.task(task).model.kind != arch:
        settings = load_settings(params, [f"tasks.{task}.model={{kind: {arch}}}"])
    budget = settings.train_for(task)
    if batch_size:
        budget = budget.model_copy(update={"batch_size": batch_size})
    return task, settings.task(task).model, budget, settings.seeds[0]


def worker(framework: str, cases: list[str], params: Path, prepared_root: Path, repeats: int, steps: int,
           threads: int | None, batch_size: int | None) -> dict:
    """Measure every case in this process; {case: {crosstrain_ms, bare_ms, stock_ms, ratios, ...}}."""
    import numpy as np

    from crosstrain import backends
    from crosstrain.data.dataset import load_meta, load_split
    from crosstrain.models.spec import describe, initial_weights
    from crosstrain.perf.modes import mode_batches

    backend = backends.get(framework)
    bare = {"pytorch": bare_pytorch, "tensorflow": bare_tensorflow}[framework]
    stock = importlib.import_module({"pytorch": "stock_torch", "tensorflow": "stock_keras"}[framework])
    out = {}
    for case in cases:
        task, spec, budget, seed = case_spec(case, params, batch_size)
        threads_used = threads or budget.threads
        backend.configure(threads_used, seed)
        meta, train = load_meta(prepared_root / task), load_split(prepared_root / task, "train")
        weights = initial_weights(spec, meta, seed)
        ours, theirs, det = (backend.build_model(spec, meta) for _ in range(3))
        for model in (ours, theirs, det):
            backend.set_weights(model, weights)
        stock_model, to_input = stock.build(spec, meta, weights)
        stock_x = to_input(train.x)
        # The stock model must be the same function: the same logits from the same weights.
        probe = slice(0, min(len(train), 64))
        gap = float(np.max(np.abs(stock.predict(stock_model, stock_x[probe])
                                  - backend.predict_logits(ours, train.x[probe]))))
        if not gap <= 1e-4:
            raise SystemExit(f"{framework} {case}: stock logits differ from crosstrain's by {gap:.3g}")
        backend.set_deterministic(False)
        loops = {"crosstrain": crosstrain_loop(backend.make_train_step(ours, budget, train.x[:1]), train),
                 "bare": bare(theirs, budget, train.x, train.y),
                 "stock": bare(stock_model, budget, stock_x, train.y),
                 "deterministic": deterministic_loop(backend, crosstrain_loop(
                     backend.make_train_step(det, budget, train.x[:1]), train))}
        batches = mode_batches(len(train), budget.batch_size, seed, steps)
        for run in loops.values():
            run(batches[: min(len(batches), 5)])  # warm-up: tracing, allocator, caches
        times: dict[str, list[float]] = {name: [] for name in loops}
        names = list(loops)
        for r in range(repeats):
            for name in names[r % len(names):] + names[:r % len(names)]:  # each goes first in turn
                times[name].append(loops[name](batches) / len(batches) * 1000.0)

        step, model, total, det_ratios = (
            [x / y for x, y in zip(times[a], times[b], strict=True)]
            for a, b in (("crosstrain", "bare"), ("bare", "stock"), ("crosstrain", "stock"),
                         ("deterministic", "crosstrain")))
        out[case] = {"model": describe(spec), "batch_size": budget.batch_size, "threads": threads_used,
                     "stock_logits_gap": gap,
                     **{f"{name}_ms": statistics.median(times[name]) for name in names},
                     "ratio": statistics.median(step), "ratio_min": min(step), "ratio_max": max(step),
                     "model_ratio": statistics.median(model), "model_ratio_min": min(model),
                     "model_ratio_max": max(model), "total_ratio": statistics.median(total),
                     "deterministic_ratio": statistics.median(det_ratios)}
    return out


def prepare(tasks: list[str], params: Path, prepared_root: Path | None, limit: int) -> Path:
    """Where the tasks' prepared data is: `prepared_root` if given, else data/prepared, else ingested here
    with at most `limit` training examples per task (per-step times do not depend on it; ingest time does)."""
    from crosstrain.config import load_settings
    from crosstrain.data.ingest import ingest
    from crosstrain.layout import Layout

    if prepared_root is not None:
        return prepared_root
    existing = Layout().prepared(tasks[0]).parent
    if all((existing / task / "meta.json").exists() for task in tasks):
        return existing
    settings = load_settings(params, [f"tasks.{task}.limit={limit}" for task in tasks])
    root = Path(tempfile.mkdtemp(prefix="crosstrain-overhead-"))
    for task in tasks:
        ingest(task, settings.task(task), settings.seed, root / task)
    return root


def cpu() -> str:
    """The CPU's model name and core count (Linux), else what `platform` knows."""
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'cpu'}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES),
                        help="ARCH/TASK pairs (or a bare TASK: its own model) to measure")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (median ratio)")
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per timed repeat")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: params' train.threads)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="batch size of every case (0: each task's train budget)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared-root", type=Path, default=None,
                        help="prepared tasks (default: data/prepared if ingested, else a fresh ingest)")
    parser.add_argument("--limit", type=int, default=1000, help="training examples of a fresh ingest")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.cases, args.params, args.prepared_root, args.repeats, args.steps,
                        args.threads, args.batch_size)
        print(json.dumps(result))
        return

    started = time.time()
    tasks = list(dict.fromkeys(case.rpartition("/")[2] for case in args.cases))
    root = prepare(tasks, args.params, args.prepared_root, args.limit)
    results = {}
    for framework in args.frameworks:
        command = [sys.executable, __file__, "--worker", framework, "--cases", *args.cases,
                   "--repeats", str(args.repeats), "--steps", str(args.steps), "--params", str(args.params),
                   "--prepared-root", str(root), "--batch-size", str(args.batch_size),
                   *(["--threads", str(args.threads)] if args.threads else [])]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{framework} worker failed:\n{out.stderr[-3000:]}")
        results[framework] = json.loads(out.stdout.strip().splitlines()[-1])

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\ncrosstrain vs plain loops and stock models: {args.steps} steps x {args.repeats} interleaved "
          f"repeats, median ratios ({time.time() - started:.0f} s)")
    print(f"machine: {platform.machine()}, {cpu()}, python {platform.python_version()}")
    print(f"{'framework':<12}{'case':<18}{'model':<22}{'batch':>6}{'thr':>4}{'crosstrain':>11}{'bare':>8}"
          f"{'stock':>8}{'step':>7}{'model':>7}{'range':>12}{'total':>7}{'det':>7}  (ms/step) <= {TARGET}")
    for framework, cases in results.items():
        for case, r in cases.items():
            verdict = "ok" if max(r["ratio"], r["model_ratio"]) <= TARGET else "MISS"
            print(f"{framework:<12}{case:<18}{r['model'][:21]:<22}{r['batch_size']:>6}{r['threads']:>4}"
                  f"{r['crosstrain_ms']:>11.2f}{r['bare_ms']:>8.2f}{r['stock_ms']:>8.2f}{r['ratio']:>7.3f}"
                  f"{r['model_ratio']:>7.3f}{r['model_ratio_min']:>6.2f}-{r['model_ratio_max']:<5.2f}"
                  f"{r['total_ratio']:>7.3f}{r['deterministic_ratio']:>7.3f}  {verdict}")


if __name__ == "__main__":
    main()
