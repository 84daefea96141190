"""The Great Expectations suite for prepared tables: what every split must satisfy before training.

One suite per split, because two checks depend on the split: val and test must stay within the
range the train split spans (widened by a margin), and test must share no row with train.

This module imports great_expectations at the top and takes seconds to import; import it lazily.
"""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd

from crosstrain.data.dataset import load_frames
from crosstrain.names import LABEL_COLUMN, SPLITS
from crosstrain.validation.gx_runner import HASH_COLUMN, label_expectations, row_hashes

# Val/test values may lie this many train standard deviations outside the train split's range.
RANGE_MARGIN_STDS = 10.0
FLOAT_TYPES = ["float32", "float64"]
# The split that must share no row with train. Val is left out on purpose: it only steers
# early stopping, and test is what the reported scores are computed on.
DISJOINT_SPLIT = "test"


def prepare_suites(prepared: Path, meta: dict) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """The frames to validate (one per split, test with a hash column) and each split's expectations."""
    frames = load_frames(prepared)
    columns = [*meta["features"], LABEL_COLUMN]
    train_hashes = sorted(set(row_hashes(frames["train"], columns)))
    frames[DISJOINT_SPLIT] = frames[DISJOINT_SPLIT].assign(
        **{HASH_COLUMN: row_hashes(frames[DISJOINT_SPLIT], columns)}
    )
    # Train defines the plausible range, so train itself is only checked for finite values.
    bounds = feature_bounds(frames["train"], meta)
    suites = {
        split: build_expectations(
            split,
            meta,
            bounds=None if split == "train" else bounds,
            train_hashes=train_hashes if split == DISJOINT_SPLIT else None,
        )
        for split in SPLITS
    }
    return frames, suites


def feature_bounds(train: pd.DataFrame, meta: dict) -> dict[str, tuple[float, float]]:
    """The plausible range of each feature in val/test: the train range ± RANGE_MARGIN_STDS stds.

    Only finite train values count, so a stray inf in train fails its own check instead of
    silently widening the bound. A feature train has no usable values for is bounded only by
    finiteness, which its other checks (type, nulls) will already report.
    """
    widest = float(np.finfo(np.float64).max)
    bounds = {}
    for feature, std in zip(meta["features"], meta["feature_std"], strict=True):
        column = train[feature] if feature in train else pd.Series([], dtype="float64")
        values = pd.to_numeric(column, errors="coerce").astype("float64")
        finite = values[np.isfinite(values)]
        if finite.empty:
            bounds[feature] = (-widest, widest)
            continue
        margin = RANGE_MARGIN_STDS * float(std)
        bounds[feature] = (float(finite.min()) - margin, float(finite.max()) + margin)
    return bounds


def build_expectations(
    split: str,
    meta: dict,
    bounds: dict[str, tuple[float, float]] | None,
    train_hashes: list[str] | None,
) -> list:
    """The expectations for one split.

    Args:
        split: "train", "val" or "test".
        meta: The prepared task's meta.json.
        bounds: Per-feature (min, max) from `feature_bounds`; None checks only that values are finite.
        train_hashes: `row_hashes` of the train split; given only for the split that must not
            share rows with train, which then must carry a HASH_COLUMN.

    Returns:
        GX expectation objects, table-level ones first.
    """
    E = gx.expectations
    features = list(meta["features"])
    columns = [*features, LABEL_COLUMN]
    # The hash column is appended by validate(), after the real ones, so expecting it last
    # still checks the prepared file's own columns and their order exactly.
    ordered = [*columns, HASH_COLUMN] if train_hashes is not None else columns
    widest = float(np.finfo(np.float64).max)
    expectations = [
        E.ExpectTableColumnsToMatchOrderedList(column_list=ordered),
        E.ExpectTableRowCountToEqual(value=int(meta["rows"][split])),
    ]
    for feature in features:
        # Comparisons with ±inf fail, so the widest finite bound rejects exactly the non-finite values.
        low, high = bounds[feature] if bounds is not None else (-widest, widest)
        expectations += [
            E.ExpectColumnValuesToBeInTypeList(column=feature, type_list=FLOAT_TYPES),
            E.ExpectColumnValuesToNotBeNull(column=feature),
            E.ExpectColumnValuesToBeBetween(column=feature, min_value=low, max_value=high),
        ]
    return expectations + label_expectations(split, meta, train_hashes)


