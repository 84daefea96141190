"""The fairness record of one training run (task x framework x seed), framework-neutral.

A record is JSON: `about` (who made it; never compared) and `fields`, a flat mapping from a dotted
field name to a JSON value, compared field by field across frameworks (`crosstrain.fairness.compare`).
Every value is read back from what ran - the built model's weights, the indices the loop fed, the
optimiser and thread pools as the libraries report them - never echoed from params, so a setting
that one framework silently ignores or overrides shows up as a difference.

Floats are written with 7 significant digits, float32's precision: a value converted between
conventions (PyTorch's batch-norm momentum is 1 - Keras') or held as a float32 variable (Keras'
learning rate) must not differ in bits neither framework computes with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

# The timed region of a training epoch, as crosstrain.training.loop.fit implements it.
TIMER_SCOPE = ("optimiser steps only (host-to-device copy, forward, loss, backward, clipping, update), "
               "the device synchronised and the loss read back before the clock stops; evaluation, "
               "logging and checkpoints outside")

Fields = dict[str, Any]


def canonical(value: Any) -> Any:
    """`value` as comparable JSON: floats to 7 significant digits, tuples as lists, numpy as Python."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.7g}")
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, Iterable):
        return [canonical(v) for v in value]
    return str(value)


def weights_digest(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 of every weight in the neutral layout (names sorted; float32 bytes), e.g. before step one."""
    sha = hashlib.sha256()
    for name in sorted(weights):
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(weights[name], dtype=np.float32).tobytes())
    return sha.hexdigest()


def indices_digest(batches: Iterable[np.ndarray]) -> str:
    """sha256 of the example indices of an epoch's batches, in the order they were fed."""
    sha = hashlib.sha256()
    for idx in batches:
        sha.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
        sha.update(b"|")  # batch boundaries count: the same order cut into other batches differs
    return sha.hexdigest()


def build(about: Mapping[str, Any], *readings: Mapping[str, Any]) -> dict[str, Any]:
    """A record from `about` (task, framework, seed, versions) and flat readings (later ones win)."""
    fields: Fields = {}
    for reading in readings:
        fields.update(reading)
    return {"about": canonical(about), "fields": canonical(fields)}


def digest(record: Mapping[str, Any]) -> str:
    """sha256 of the record's compared fields (an MLflow tag: equal digests, equal records)."""
    return hashlib.sha256(json.dumps(record["fields"], sort_keys=True).encode()).hexdigest()
