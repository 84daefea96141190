"""Reading the world from launcher variables, and cutting global batches into per-rank shards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crosstrain.config import Framework
from crosstrain.distributed import env, launch, shard
from crosstrain.errors import ConfigError


def test_no_launcher_variables_is_a_world_of_one():
    assert env.read(Framework.PYTORCH, {}) == env.World()
    assert env.read(Framework.TENSORFLOW, {"RANK": "1", "WORLD_SIZE": "2"}) == env.World()


def test_torchrun_and_tf_config_variables():
    # Given torchrun's variables, and the TF_CONFIG the launcher writes for worker 1 of 3
    torch_world = env.read(Framework.PYTORCH, {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    tf_world = env.read(Framework.TENSORFLOW, {"TF_CONFIG": launch.tf_config([1, 2, 3], 1)})
    # Then both say rank 1, and only rank 0 is the chief
    assert (torch_world.rank, torch_world.size, torch_world.is_chief) == (1, 2, False)
    assert (tf_world.rank, tf_world.size) == (1, 3)
    assert json.loads(launch.tf_config([1, 2], 0))["cluster"]["worker"] == ["127.0.0.1:1", "127.0.0.1:2"]


def test_a_chief_task_in_tf_config_is_refused():
    config = json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                         "task": {"type": "chief", "index": 0}})
    with pytest.raises(ConfigError, match="workers only"):
        env.read(Framework.TENSORFLOW, {"TF_CONFIG": config})


def test_shards_partition_the_global_batch_and_weights_sum_to_one():
    # Given a short last batch of 7 examples split over 2 ranks
    batch = np.arange(100, 107)
    parts = [shard.shard(batch, rank, 2) for rank in range(2)]
    # Then the ranks' shards are the batch in order, and their loss weights add up to the whole
    assert np.array_equal(np.concatenate(parts), batch)
    assert [len(p) for p in parts] == [4, 3]
    assert sum(shard.weight(len(p), len(batch)) for p in parts) == pytest.approx(1.0)
    assert shard.shard(batch, 0, 1) is batch


def test_a_batch_smaller_than_the_world_is_refused():
    shard.check(rows=103, batch_size=16, size=2)  # last batch 7: fine
    with pytest.raises(ConfigError, match="2 workers cannot share a batch of 1"):
        shard.check(rows=97, batch_size=16, size=2)
