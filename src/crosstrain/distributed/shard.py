"""Each rank's slice of a global batch: the same global batch order as a single-process run.

Rank r takes the r-th of `size` contiguous, nearly equal parts of the global batch's indices, and its
loss is weighted by its share of the batch (`weight`), so the ranks' weighted losses sum to the
global batch's mean loss even when a short last batch splits unevenly.
"""

from __future__ import annotations

import numpy as np

from crosstrain.errors import ConfigError


def shard(indices: np.ndarray, rank: int, size: int) -> np.ndarray:
    """Rank `rank`'s part of one global batch (the whole batch in a world of 1)."""
    if size == 1:
        return indices
    return np.array_split(indices, size)[rank]


def weight(part: int, whole: int) -> float:
    """The share of the global batch's mean loss a shard of `part` examples carries."""
    return part / whole


def check(rows: int, batch_size: int, size: int) -> None:
    """Refuse a split that would leave some rank without examples (a batch smaller than the world).

    Raises:
        ConfigError: The global batch, or the epoch's short last batch, has fewer examples than workers.
    """
    last = rows % batch_size or batch_size
    smallest = min(batch_size, last, rows)
    if smallest < size:
        raise ConfigError(
            f"{size} workers cannot share a batch of {smallest} examples ({rows} rows in batches of "
            f"{batch_size}); change train.batch_size or the number of workers"
        )
