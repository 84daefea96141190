"""The prepared GPU check (issue 14): both frameworks on one CUDA GPU, checked, timed, compared; one table.

    make bench-gpu                                   # in crosstrain's venv, on a machine with a CUDA GPU
    PYTHONPATH=src python3 bench/gpu.py              # from a checkout, with only the frameworks installed
    PYTHONPATH=src python3 bench/gpu.py --dry-run    # on the CPU: tiny models, a few steps, the same table
    PYTHONPATH=src python3 bench/gpu.py --tests      # the `gpu`-marked tests (needs pytest)

It imports only crosstrain's training path (config, devices, models, training, the latency timer;
besides the frameworks it needs numpy, pydantic and pyyaml): no MLflow, DVC or Great Expectations,
and nothing is downloaded (the data are random arrays of the CNN's and the Transformer's shapes).
A framework that is not installed is said so, and the other runs alone. The table format is in
bench/README.md. On a GPU it should finish in under 8 minutes (`--steps` trims it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np

from crosstrain import devices, environment
from crosstrain.config import CNNSpec, Framework, TrainConfig, TransformerSpec
from crosstrain.errors import ConfigError
from crosstrain.evaluation.latency import batch1_latency
from crosstrain.models.flops import training_flops_per_example
from crosstrain.models.spec import initial_weights

ROOT = Path(__file__).resolve().parents[1]
MODES = ("eager-fp32", "compiled-fp32", "eager-mixed", "compiled-mixed")
COLUMNS = ("framework", "model", "mode", "params on device", "max |Δ logit|", "step ms", "examples/s",
           "latency p50 ms", "peak device MB", "MFU %")
IMAGE_META = {"modality": "image", "classes": [str(d) for d in range(10)], "image_shape": [28, 28, 1]}
TEXT_META = {"modality": "text", "classes": ["neg", "neu", "pos"], "vocab_size": 2000, "seq_len": 64}


def models(dry_run: bool) -> dict[str, tuple]:
    """name -> (spec, meta): the default-sized CNN and Transformer, or tiny ones for a dry run."""
    if dry_run:
        return {"cnn": (CNNSpec(widths=[4, 8], dense=8, dropout=0.0), IMAGE_META),
                "transformer": (TransformerSpec(embedding_dim=16, layers=1, heads=2, ff_dim=16, dropout=0.0),
                                {**TEXT_META, "vocab_size": 100, "seq_len": 12})}
    return {"cnn": (CNNSpec(dropout=0.0), IMAGE_META),
            "transformer": (TransformerSpec(dropout=0.0), TEXT_META)}


def batch(meta: dict, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random batch of the task's shape (pixels in [0, 1) or token ids) and labels."""
    rng = np.random.default_rng(seed)
    if meta["modality"] == "image":
        x = rng.random((size, *meta["image_shape"]), dtype=np.float32)
    else:
        x = rng.integers(1, meta["vocab_size"], (size, meta["seq_len"]), dtype=np.int64)
    return x, rng.integers(0, len(meta["classes"]), size, dtype=np.int64)


def installed() -> list[Framework]:
    """The frameworks this machine has; says which one is missing."""
    found = [fw for fw in Framework if devices.installed(fw)]
    for fw in set(Framework) - set(found):
        running = " and ".join(devices.NAMES[f] for f in found)
        print(f"{devices.NAMES[fw]} is not installed: running {running} only", flush=True)
    return found


class Parts(NamedTuple):
    """A framework's modules on the training path (no backends, no export: no ONNX needed here)."""

    models: ModuleType
    training: ModuleType
    device: ModuleType
    readback: ModuleType


def load(framework: Framework) -> Parts:
    """The training path of a framework, as its backend is made of it (crosstrain.backends.modules)."""
    name = "tf" if framework is Framework.TENSORFLOW else "torch"
    return Parts(*(importlib.import_module(f"crosstrain.{package}")
                   for package in (f"models.{name}", f"training.{name}", f"training.{name}_device",
                                   f"training.{name}_readback")))


def matmul_peak(framework: Framework, device: str, precision: str, size: int) -> float:
    """FLOP/s of a size×size matrix product on `device` in this framework (TF32 off; bf16 for "mixed")."""
    device_mod = load(framework).device
    if framework is Framework.PYTORCH:
        import torch

        dtype = torch.bfloat16 if precision == "mixed" else torch.float32
        a, b = (torch.rand(size, size, device=device).to(dtype) for _ in range(2))

        def run() -> object:
            return torch.mm(a, b)
    else:
        import tensorflow as tf

        dtype = tf.bfloat16 if precision == "mixed" else tf.float32
        a, b = (tf.cast(tf.random.stateless_uniform((size, size), seed=(0, i)), dtype) for i in range(2))
        product = tf.function(lambda: tf.linalg.matmul(a, b))

        def run() -> object:
            return product().numpy() if devices.index(device) is None else product()
    run()
    device_mod.synchronize(device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run()
        device_mod.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def logits_from_shared_weights(framework: Framework, kind: str, spec, meta: dict, x: np.ndarray,
                               device: str) -> np.ndarray:
    """fp32 inference logits of a fresh model loaded with crosstrain's seed-0 weights, on `device`."""
    models_mod, training, _, _ = load(framework)
    training.configure(1, 0, device=device)
    model = models_mod.build_model(spec, meta)
    models_mod.set_weights(model, initial_weights(spec, meta, 0))
    return models_mod.make_predict(models_mod.place(model, device))(x)


def run_mode(framework: Framework, spec, meta: dict, mode: str, device: str, args: argparse.Namespace,
             peaks: dict) -> dict:
    """Train `args.steps` steps in `mode` after `args.warmup`, then batch-1 latency: one row's figures."""
    models_mod, training, device_mod, readback = load(framework)
    execution, _, precision = mode.partition("-")
    budget = TrainConfig(device=device, execution=execution, precision=precision, batch_size=args.batch,
                         learning_rate=1e-3, deterministic=False, threads=args.threads)
    training.configure(args.threads, 0, deterministic=False, device=device)
    device_mod.reset_device_memory(device)
    model = models_mod.build_model(spec, meta, precision=precision)
    models_mod.set_weights(model, initial_weights(spec, meta, 0))
    x, y = batch(meta, args.batch)
    step = training.make_train_step(model, budget, x[:1])
    on_device = readback.fairness_readback(step, model)["device"] == [device]
    durations = []
    for _ in range(args.warmup + args.steps):
        start = time.perf_counter()
        step(x, y)
        step.synchronize()  # the clock stops when the GPU has finished, as in crosstrain's loop
        durations.append(time.perf_counter() - start)
    step_s = statistics.median(durations[args.warmup:])
    predict = models_mod.make_predict(model, execution=execution)
    latency = batch1_latency(predict, x, calls=args.latency_calls, warmup=3,
                             synchronize=lambda: device_mod.synchronize(device))
    examples_per_s = args.batch / step_s
    # The device's peak is the faster framework's product, as crosstrain's CPU MFU takes it.
    peak = max((v for (_, p), v in peaks.items() if p == precision), default=None)
    mfu = 100 * training_flops_per_example(spec, meta) * examples_per_s / peak if peak else None
    memory = device_mod.peak_device_memory_mb(device)
    return {"params on device": "yes" if on_device else "NO", "step ms": step_s * 1000,
            "examples/s": examples_per_s, "latency p50 ms": statistics.median(latency) * 1000,
            "peak device MB": memory if memory is not None else "n/a (CPU)", "MFU %": mfu}


def parity(frameworks: list[Framework], kind: str, spec, meta: dict, device: str) -> str:
    """max |logit difference| from the same weights in fp32 (TF32 off): between the frameworks when both
    are here, else PyTorch on `device` against PyTorch on the CPU."""
    x, _ = batch(meta, 32, seed=1)
    if len(frameworks) == 2:
        a, b = (logits_from_shared_weights(fw, kind, spec, meta, x, device) for fw in frameworks)
        return f"{float(np.max(np.abs(a - b))):.1e} (TF vs PyTorch)"
    a = logits_from_shared_weights(frameworks[0], kind, spec, meta, x, device)
    b = logits_from_shared_weights(frameworks[0], kind, spec, meta, x, devices.CPU)
    return f"{float(np.max(np.abs(a - b))):.1e} (vs CPU)"


def shown(value: object) -> str:
    """A cell: floats to 4 significant digits, None as a dash."""
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def header(frameworks: list[Framework], device: str) -> list[str]:
    """The machine and the versions, printed above the table."""
    lines = []
    gpus = environment.gpu_details()
    for fw in frameworks:
        builds = load(fw).device.device_builds()
        version = importlib.import_module("torch" if fw is Framework.PYTORCH else "tensorflow").__version__
        lines.append(f"{devices.NAMES[fw]} {version} (CUDA {builds['cuda']}, cuDNN {builds['cudnn']})")
    if device != devices.CPU:
        name = load(frameworks[0]).device.device_name(device)
        driver = gpus[0].get("driver") if gpus else "unknown"
        lines.insert(0, f"device {device}: {name}, driver {driver}")
    else:
        lines.insert(0, f"device cpu (dry run: tiny models, a few steps; not a GPU measurement): "
                        f"{environment.describe()['cpu']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="On the CPU, tiny models, a few steps.")
    parser.add_argument("--tests", action="store_true", help="Run the gpu-marked tests instead.")
    parser.add_argument("--steps", type=int, default=None, help="Timed steps per mode (default 50; 3 dry).")
    parser.add_argument("--modes", default=None, help="Comma-separated modes (default: all four; eager dry).")
    args = parser.parse_args(argv)
    if args.tests:
        tests = str(ROOT / "tests" / "training" / "test_device.py")
        return subprocess.call([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                                "--noconftest", tests], cwd=ROOT)
    args.steps = args.steps or (3 if args.dry_run else 50)
    args.warmup, args.batch = (1, 8) if args.dry_run else (10, 64)
    args.threads, args.latency_calls = 1, (5 if args.dry_run else 100)
    default = ["eager-fp32", "eager-mixed"] if args.dry_run else list(MODES)
    modes = args.modes.split(",") if args.modes else default
    frameworks = installed()
    try:
        device = devices.CPU if args.dry_run else devices.resolve_here("cuda")
    except ConfigError as err:
        print(f"bench/gpu.py: {err} (--dry-run runs on the CPU)", file=sys.stderr)
        return 2
    for fw in frameworks:
        load(fw).training.configure(args.threads, 0, deterministic=False, device=device)
    size = 256 if args.dry_run else 4096
    peaks = {(fw, p): matmul_peak(fw, device, p, size) for fw in frameworks for p in ("fp32", "mixed")}
    rows = []
    for kind, (spec, meta) in models(args.dry_run).items():
        agree = parity(frameworks, kind, spec, meta, device)
        for fw in frameworks:
            for mode in modes:
                try:
                    figures = run_mode(fw, spec, meta, mode, device, args, peaks)
                except Exception as err:  # noqa: BLE001 - a mode this build cannot run is a row, not a crash
                    figures = {"params on device": f"failed: {type(err).__name__}: {str(err)[:80]}"}
                figures["max |Δ logit|"] = agree if mode == "eager-fp32" else ""
                rows.append({"framework": devices.NAMES[fw], "model": kind, "mode": mode, **figures})
    print("\n".join(header(frameworks, device)))
    print("matmul peak (GFLOP/s): " + ", ".join(
        f"{devices.NAMES[fw]} {p} {peaks[(fw, p)] / 1e9:.4g}" for fw, p in peaks))
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(shown(row.get(c)) for c in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
