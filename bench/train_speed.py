"""Training throughput and batch-1 latency of the same iris MLP in TensorFlow and PyTorch.

    make bench                         # defaults: 5 repeats x 30 epochs, 1 thread
    python bench/train_speed.py --repeats 9 --epochs 50 --threads 2

Each measurement runs in a fresh process (so neither framework inherits the other's thread pools
or caches), alternating the frameworks' order. Epoch 0 is warm-up (it includes TensorFlow's trace)
and is excluded from throughput. The machine is shared and noisy: read the TF/PyTorch *ratio*,
measured within this one run, rather than the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import numpy as np


def worker(framework: str, epochs: int, threads: int, batch_size: int) -> dict:
    """Train once in this process and return its timings."""
    import tempfile
    from pathlib import Path

    from crosstrain import backends
    from crosstrain.config import MLPSpec, TaskConfig, TrainConfig
    from crosstrain.data.dataset import load_split
    from crosstrain.data.ingest import ingest
    from crosstrain.evaluation.evaluate import batch1_latency
    from crosstrain.models.spec import initial_weights
    from crosstrain.training.loop import fit

    prepared = Path(tempfile.mkdtemp()) / "iris"
    meta = ingest("iris", TaskConfig(), 42, prepared)
    train, val = load_split(prepared, "train"), load_split(prepared, "val")
    backend = backends.get(framework)
    backend.configure(threads, 42)
    spec = MLPSpec(hidden=[16])
    model = backend.build_model(spec, meta)
    backend.set_weights(model, initial_weights(spec, meta, 42))
    budget = TrainConfig(epochs=epochs, batch_size=batch_size, threads=threads)
    step = backend.make_train_step(model, budget, train.x[:1])
    predict = backend.make_predict(model)
    history = fit(step, predict, train, val, cfg=budget, seed=42)
    steady = [e["epoch_time_s"] for e in history.epochs[1:]]
    latency = batch1_latency(predict, val.x)
    return {
        "first_epoch_s": history.epochs[0]["epoch_time_s"],
        "samples_per_s": len(train) / statistics.median(steady),
        "latency_ms_p50": float(np.percentile(np.array(latency) * 1e3, 50)),
        "final_val_accuracy": history.last["val_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process measurements per framework")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per measurement (first is warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="intra/inter-op threads, same for both")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--worker", choices=["tensorflow", "pytorch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.threads, args.batch_size)))
        return

    results: dict[str, list[dict]] = {"tensorflow": [], "pytorch": []}
    started = time.time()
    for i in range(args.repeats):
        order = ["tensorflow", "pytorch"] if i % 2 == 0 else ["pytorch", "tensorflow"]
        for fw in order:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", fw, "--epochs", str(args.epochs),
                 "--threads", str(args.threads), "--batch-size", str(args.batch_size)],
                capture_output=True, text=True, check=True,
            )
            results[fw].append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"repeat {i + 1}/{args.repeats} done", file=sys.stderr)

    def med(fw: str, key: str) -> float:
        return statistics.median(r[key] for r in results[fw])

    print(f"\niris MLP[16], batch {args.batch_size}, {args.epochs} epochs, {args.threads} thread(s), "
          f"{args.repeats} fresh processes each, medians ({time.time() - started:.0f} s)")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}")
    print(f"{'metric':<24}{'tensorflow':>14}{'pytorch':>14}{'TF / PT':>10}")
    for key, label in [("samples_per_s", "train samples/s"), ("first_epoch_s", "first epoch (s)"),
                       ("latency_ms_p50", "batch-1 latency p50 ms"),
                       ("final_val_accuracy", "final val accuracy")]:
        tf_v, pt_v = med("tensorflow", key), med("pytorch", key)
        print(f"{label:<24}{tf_v:>14.4g}{pt_v:>14.4g}{tf_v / pt_v:>10.2f}")


if __name__ == "__main__":
    main()
