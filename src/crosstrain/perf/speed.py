"""The timings behind the speed and memory verdicts: both frameworks alternately, a fresh process each.

    crosstrain speed --task iris
    crosstrain speed --task images --set speed.rounds=6

The training runs are no fair stopwatch: their seeds run one after another in one process (the first
pays for warm caches, resident memory climbs seed by seed) and the two frameworks train in different
DVC stages, minutes apart, on a shared machine. Here, for round r of `speed.rounds`, each framework
is measured once, in the order TF, PT in even rounds and PT, TF in odd ones (ABBA: a drift of the
machine during the run falls equally on both), each measurement in a new Python process
(`python -m crosstrain.perf.speed`) with this process's environment less the MLflow and launcher
variables (`crosstrain.reproduce.ENV_LEAKS`).

Each child configures threads, seed and determinism as training does, builds the task's model from
the initial weights of `seeds[0]` in the task's training budget (mode, batch size, learning rate),
runs `speed.warmup_steps` discarded steps and `speed.steps` timed ones on the epoch-0 batches with
the timer of `crosstrain measure` (`crosstrain.perf.modes.timed_training`), then times batch-1
latency and large-batch throughput with `crosstrain.evaluation.latency` (at most `LATENCY_CALLS`
calls). Its peak RSS is that of the training region, as a training run records it: the high-water
mark from just before the model is built (`peak_rss_mb`) and its rise above that point (`train_rss_mb`).

A child that fails stops the step with a CrosstrainError naming the task, framework and round, plus
the child's last stderr lines; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from crosstrain import names
from crosstrain.config import Framework, LatencyConfig, Settings
from crosstrain.errors import CrosstrainError
from crosstrain.io import atomic_write_json, read_json
from crosstrain.reproduce import ENV_LEAKS

# Batch-1 calls per measurement: enough for a p50 and a p95, few enough that a round stays seconds.
LATENCY_CALLS = 50
# A child still running after this long is stuck (a measurement takes seconds); it is killed.
CHILD_TIMEOUT_S = 900
STDERR_LINES = 12
FIGURES = (names.STEP_TIME, names.TRAIN_THROUGHPUT, names.COMPILE_TIME, names.LATENCY_P50, names.LATENCY_P95,
           names.THROUGHPUT, names.PEAK_RSS, names.TRAIN_RSS)


class SpeedError(CrosstrainError):
    """A measurement process failed; the message names the task, framework and round."""


def round_order(frameworks: Sequence[str], round_: int) -> list[str]:
    """The frameworks in measuring order in `round_`: as given in even rounds, reversed in odd ones."""
    return list(frameworks) if round_ % 2 == 0 else list(reversed(frameworks))


def child_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the variables that would attach a child to an MLflow run or a distributed launch."""
    return {key: value for key, value in environ.items() if not key.startswith(ENV_LEAKS)}


def latency_config(cfg: LatencyConfig) -> LatencyConfig:
    """`latency` with at most `LATENCY_CALLS` timed batch-1 calls."""
    return cfg.model_copy(update={"calls": min(cfg.calls, LATENCY_CALLS)})


def medians(result: dict) -> dict[str, dict[str, float]]:
    """framework -> figure -> its median over the rounds, from `speed`'s result (for summaries)."""
    by_framework: dict[str, list[dict]] = {}
    for m in result["measurements"]:
        by_framework.setdefault(m["framework"], []).append(m)
    return {fw: {name: statistics.median(m[name] for m in ms) for name in FIGURES}
            for fw, ms in by_framework.items()}


# --- in the child ---------------------------------------------------------------------------------


def measure_one(task: str, settings: Settings, framework: Framework, prepared: Path) -> dict:
    """Time one short training and inference of `framework` in this process: one measurement's figures.

    Meant for a fresh process (`python -m crosstrain.perf.speed`): thread pools and determinism can
    be set only once per process, and the peak RSS is this process's own.
    """
    # Imported here: the parent process never loads a framework.
    from crosstrain import backends, devices
    from crosstrain.data.dataset import load_meta, load_split
    from crosstrain.evaluation import latency
    from crosstrain.perf.modes import timed_training
    from crosstrain.resources import track_peak_memory

    framework = Framework(framework)
    budget, seed = devices.on_device(settings.train_for(task)), settings.seeds[0]
    meta = load_meta(prepared)
    train, test = load_split(prepared, "train"), load_split(prepared, "test")
    backend = backends.get(framework)
    backend.configure(budget.threads, seed, budget.deterministic, budget.device)
    # Memory from here, after imports and data loading, as a training run measures it.
    with track_peak_memory() as memory:
        model, timed = timed_training(task, settings, framework, meta, train, budget,
                                      warmup=settings.speed.warmup_steps, steps=settings.speed.steps)
    predict = backend.make_predict(model, execution=budget.execution)
    inference = latency.measure(predict, test.x, latency_config(settings.latency),
                                synchronize=lambda: backend.synchronize(budget.device))
    figures = {**timed, **inference, names.PEAK_RSS: memory.peak_mb, names.TRAIN_RSS: memory.increase_mb}
    return {"pid": os.getpid(), **{name: float(figures[name]) for name in FIGURES}}


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crosstrain.perf.speed",
                                     description="One measurement of `crosstrain speed` (run by it).")
    parser.add_argument("--settings", type=Path, required=True, help="The validated settings as JSON.")
    parser.add_argument("--task", required=True)
    parser.add_argument("--framework", required=True, choices=[f.value for f in Framework])
    parser.add_argument("--prepared", type=Path, required=True, help="The task's prepared data.")
    parser.add_argument("--out", type=Path, required=True, help="Where to write the measurement (JSON).")
    args = parser.parse_args(argv)
    settings = Settings.model_validate(read_json(args.settings))
    atomic_write_json(args.out, measure_one(args.task, settings, args.framework, args.prepared))
    return 0


# --- in the parent --------------------------------------------------------------------------------


def _measure_in_child(task: str, framework: str, label: str, settings_file: Path, prepared: Path,
                      out: Path) -> dict:
    command = [sys.executable, "-m", "crosstrain.perf.speed", "--settings", str(settings_file),
               "--task", task, "--framework", framework, "--prepared", str(Path(prepared).absolute()),
               "--out", str(out)]
    try:
        done = subprocess.run(command, env=child_env(os.environ), capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as err:
        raise SpeedError(f"{label}: the measurement process ran over {CHILD_TIMEOUT_S} s; killed") from err
    if done.returncode != 0 or not out.is_file():
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()][-STDERR_LINES:]
        status = f"exit status {done.returncode}" if done.returncode else "no result written"
        first = f"{label}: the measurement process failed ({status}); its stderr ends:"
        raise SpeedError("\n    ".join([first, *(tail or ["(empty)"])]))
    return read_json(out)


def _line(label: str, m: dict) -> str:
    return (f"{label}: {m[names.STEP_TIME]:.1f} ms/step, p50 {m[names.LATENCY_P50]:.2f} ms, "
            f"peak {m[names.PEAK_RSS]:.0f} MB")


def speed(task: str, settings: Settings, prepared: Path, out_file: Path) -> dict:
    """Measure every framework of `settings.frameworks` `speed.rounds` times in ABBA order; write `out_file`.

    Returns the file's content: {task, mode, threads, steps, warmup_steps, seed, order (the
    frameworks in measuring order), measurements: [{round, position, framework, pid, step_time_ms,
    train_examples_per_s, compile_time_s, latency_ms_p50, latency_ms_p95, inference_examples_per_s,
    peak_rss_mb, train_rss_mb}]}. One line per measurement goes to stderr as it completes.
    """
    from crosstrain.data.dataset import load_meta

    load_meta(prepared)  # a missing ingest fails here, once, rather than in every child
    budget, rounds = settings.train_for(task), settings.speed.rounds
    frameworks = [Framework(f).value for f in settings.frameworks]
    order, measurements = [], []
    with tempfile.TemporaryDirectory(prefix="crosstrain-speed-") as tmp:
        settings_file = Path(tmp) / "settings.json"
        settings_file.write_text(settings.model_dump_json(by_alias=True))
        for round_ in range(rounds):
            for position, framework in enumerate(round_order(frameworks, round_)):
                label = f"speed {task} r{round_ + 1}/{rounds} {framework}"
                out = Path(tmp) / f"r{round_}-{position}-{framework}.json"
                figures = _measure_in_child(task, framework, label, settings_file, Path(prepared), out)
                order.append(framework)
                measurements.append({"round": round_, "position": position, "framework": framework,
                                     **figures})
                print(_line(label, figures), file=sys.stderr, flush=True)
    result = {
        "task": task,
        "mode": budget.mode,
        "threads": budget.threads,
        "steps": settings.speed.steps,
        "warmup_steps": settings.speed.warmup_steps,
        "seed": settings.seeds[0],
        "order": order,
        "measurements": measurements,
    }
    atomic_write_json(Path(out_file), result)
    return result


if __name__ == "__main__":
    sys.exit(_child_main())
