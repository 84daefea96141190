"""Which device a run trains on: `train.device` resolved against what each framework sees.

    crosstrain train --task iris --framework pytorch                      # train.device: auto
    crosstrain train --task iris --framework pytorch --set train.device=cuda:1

The rule is one for both frameworks, so they can never train on different devices:

- `cpu` is the CPU;
- `auto` is the GPU when every installed framework sees one, the CPU when none does;
- `cuda` is worker i's GPU cuda:i (cuda:0 in one process), `cuda:N` GPU N (one process only);
- one framework seeing a GPU and the other none (a CPU-only TensorFlow beside a CUDA PyTorch, say)
  stops with one line naming which sees what, for `auto` as for `cuda`, and so does a GPU index one
  of them does not have.

`resolve` is the rule, a pure function of what each framework sees; `visible` asks the frameworks
(`visible_gpus` in `crosstrain.training.tf_device` / `.torch_device`). A framework this process
has not imported is not imported for it: on a machine with no accelerator device node neither
framework can see a GPU, and elsewhere it is asked in a child process, so a PyTorch run still never
loads TensorFlow. Nothing here imports a framework at module level.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from crosstrain.config import Framework, TrainConfig
from crosstrain.errors import ConfigError

CPU = "cpu"
NAMES = {Framework.TENSORFLOW: "TensorFlow", Framework.PYTORCH: "PyTorch"}
PACKAGES = {Framework.TENSORFLOW: "tensorflow", Framework.PYTORCH: "torch"}
_REQUEST = re.compile(r"^(auto|cpu|cuda)(?::([0-9]+))?$")
# The one function of each framework's backend module that lists the GPUs it sees (names, in order).
_PROBE = ("import json, sys; from crosstrain.training import {module}_device as t; "
          "print(json.dumps(t.visible_gpus()))")

Seen = Mapping[Framework, Sequence[str] | None]
"""Per framework, the names of the CUDA devices it sees in order; None where it is not installed."""


def parse(requested: str) -> tuple[str, int | None]:
    """`cuda:1` -> ("cuda", 1); `auto` -> ("auto", None). A ConfigError for anything else."""
    match = _REQUEST.match(requested)
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise ConfigError(f"train.device {requested!r}: use auto, cpu, cuda or cuda:N")
    index = match.group(2)
    return match.group(1), None if index is None else int(index)


def _sees(counts: Mapping[Framework, int]) -> str:
    """"PyTorch sees 2 CUDA devices, TensorFlow sees none"."""
    def one(fw: Framework, n: int) -> str:
        return f"{NAMES[fw]} sees {n or 'no'} CUDA device{'' if n == 1 else 's'}"
    return ", ".join(one(fw, n) for fw, n in counts.items())


def resolve(requested: str, seen: Seen, *, rank: int = 0, workers: int = 1) -> str:
    """The device `requested` names for local worker `rank` of `workers`: "cpu" or "cuda:N".

    `seen` is what every framework sees (None: not installed, left out of the rule). Raises a
    one-line ConfigError when the frameworks would not train on the same device, or the GPU asked
    for is not there.
    """
    kind, index = parse(requested)
    if kind == CPU:
        return CPU
    counts = {Framework(fw): len(names) for fw, names in seen.items() if names is not None}
    with_gpu = [fw for fw, n in counts.items() if n]
    where = f"train.device={requested}"
    if not with_gpu:
        if kind == "auto":
            return CPU
        who = "either framework" if len(counts) > 1 else " or ".join(NAMES[fw] for fw in counts) or "any"
        raise ConfigError(f"{where}: no CUDA device is visible to {who} ({_sees(counts)}); "
                          "use train.device=auto or cpu, or run where a GPU is visible")
    if len(with_gpu) < len(counts):
        blind = [NAMES[fw] for fw in counts if fw not in with_gpu]
        raise ConfigError(
            f"{where}: only {' and '.join(NAMES[fw] for fw in with_gpu)} sees a GPU ({_sees(counts)}), "
            "and crosstrain never trains the frameworks on different devices: install a CUDA build of "
            f"{' and '.join(blind)}, or set train.device=cpu")
    fewest = min(counts.values())
    if index is not None:
        if workers > 1:
            raise ConfigError(f"{where} names one GPU for {workers} workers: use train.device=cuda "
                              "(worker i trains on cuda:i)")
        if index >= fewest:
            raise ConfigError(f"{where} is out of range: {_sees(counts)} "
                              f"(cuda:0{f' to cuda:{fewest - 1}' if fewest > 1 else ''})")
        return f"cuda:{index}"
    if workers > fewest:
        raise ConfigError(f"{where}: {workers} workers need a GPU each, but {_sees(counts)}; "
                          f"use at most {fewest} workers, or train.device=cpu")
    return f"cuda:{rank}"


# --- asking the frameworks -------------------------------------------------------------------------


def accelerator_nodes(dev: Path = Path("/dev")) -> bool:
    """Whether this machine has a GPU device node (NVIDIA's, ROCm's /dev/kfd, WSL's /dev/dxg).

    Without one, no CUDA or ROCm build of either framework can see a GPU: `visible` answers "none"
    without importing (or starting) anything.
    """
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists() or (dev / "dxg").exists()


def installed(framework: Framework) -> bool:
    """Whether the framework's package can be imported here (found, not imported)."""
    try:
        return importlib.util.find_spec(PACKAGES[framework]) is not None
    except ValueError:  # sys.modules holds None for it: imports of it are blocked in this process
        return False


def _ask(framework: Framework) -> list[str]:
    """The framework's own answer: in this process if it is loaded here, else in a child process."""
    module = "tf" if framework is Framework.TENSORFLOW else "torch"
    if PACKAGES[framework] in sys.modules:
        device = importlib.import_module(f"crosstrain.training.{module}_device")
        return list(device.visible_gpus())
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], capture_output=True,
                             text=True, timeout=300, check=True).stdout
        return list(json.loads(out.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
        raise ConfigError(f"could not ask {NAMES[framework]} which GPUs it sees ({err}); "
                          "set train.device=cpu to train both on the CPU") from None


def visible(frameworks: Sequence[Framework] = tuple(Framework)) -> dict[Framework, list[str] | None]:
    """What each of `frameworks` sees: its CUDA devices' names, None where it is not installed."""
    nodes = accelerator_nodes()
    return {fw: (_ask(fw) if nodes else []) if installed(fw) else None for fw in map(Framework, frameworks)}


@functools.cache
def resolve_here(requested: str, rank: int = 0, workers: int = 1) -> str:
    """`resolve` against what the frameworks installed here see (asked once per process)."""
    if parse(requested)[0] == CPU:
        return CPU
    return resolve(requested, visible(), rank=rank, workers=workers)


def for_worker(requested: str, local_rank: int = 0) -> str:
    """The device local worker `local_rank` trains on: `resolve_here`, a resolved device unchanged.

    "cpu" is answered without asking any framework; "cuda:N" is checked against what both see.
    """
    kind, number = parse(requested)
    if kind == CPU:
        return CPU
    if number is not None:
        return resolve_here(requested)
    return resolve_here(requested, local_rank, local_rank + 1)


def on_device(budget: TrainConfig, local_rank: int = 0) -> TrainConfig:
    """`budget` with its device resolved for local worker `local_rank`: what a step trains or times on."""
    return budget.model_copy(update={"device": for_worker(budget.device, local_rank)})


def index(device: str) -> int | None:
    """The GPU index of a resolved device ("cuda:1" -> 1), None for the CPU."""
    kind, number = parse(device)
    if kind == "auto":
        raise ValueError("resolve train.device first (crosstrain.devices.resolve_here)")
    return None if kind == CPU else (number or 0)
