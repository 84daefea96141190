"""Where this process stands in a distributed run, read once from the launcher's variables.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; TensorFlow workers get TF_CONFIG
(`{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": i}}`). Neither set means a world
of 1: the single-process run is the distributed run with one worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from crosstrain.config import Framework
from crosstrain.errors import ConfigError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
TF_CONFIG = "TF_CONFIG"


@dataclass(frozen=True)
class World:
    """This process's rank among `size` workers; rank 0 is the chief (it alone logs and saves)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_chief(self) -> bool:
        """Rank 0: the one process that tracks, writes outputs and saves checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one worker."""
        return self.size > 1


def launched(framework: Framework, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a launcher (torchrun, or a TF_CONFIG-setting one) started this process as a worker."""
    if Framework(framework) is Framework.PYTORCH:
        return "WORLD_SIZE" in environ
    return bool(environ.get(TF_CONFIG))


def read(framework: Framework, environ: Mapping[str, str] = os.environ) -> World:
    """This process's `World` from the framework's launcher variables; a world of 1 when there are none."""
    if not launched(framework, environ):
        return World()
    try:
        if Framework(framework) is Framework.PYTORCH:
            world = World(int(environ["RANK"]), int(environ["WORLD_SIZE"]), int(environ.get("LOCAL_RANK", 0)))
        else:
            config = json.loads(environ[TF_CONFIG])
            cluster, task = config["cluster"], config.get("task", {})
            if set(cluster) - {"worker"} or task.get("type", "worker") != "worker":
                raise ConfigError("TF_CONFIG: crosstrain runs workers only (worker 0 is the chief), "
                                  "no chief, ps or evaluator tasks")
            index = int(task.get("index", 0))
            world = World(index, len(cluster["worker"]), index)
    except (KeyError, ValueError, TypeError) as err:
        raise ConfigError(
            f"cannot read the distributed environment ({err!r}); was this started by a launcher?") from None
    if not 0 <= world.rank < world.size:
        raise ConfigError(f"rank {world.rank} is outside a world of {world.size}")
    return world
