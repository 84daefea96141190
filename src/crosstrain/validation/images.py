"""The Great Expectations suite for prepared images: what every split must satisfy before training.

GX validates tables, so each split becomes one row per image: its label, its shape, its dtype and
its smallest and largest pixel. The test frame also carries a hash of each image's pixels, so
"no test image is also in train" is one column check (see gx_runner.HASH_COLUMN).

This module imports great_expectations at the top and takes seconds to import; import it lazily.
"""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd

from crosstrain.data.images import image_hashes
from crosstrain.errors import DataValidationError, MissingInputError
from crosstrain.names import LABEL_COLUMN, SPLITS
from crosstrain.validation.gx_runner import HASH_COLUMN

INT_TYPES = ["int32", "int64"]
PIXEL_DTYPE = "uint8"
# The split that must share no image with train; as for tables, val only steers early stopping.
DISJOINT_SPLIT = "test"


def prepare_suites(prepared: Path, meta: dict) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """The frames to validate (one row per image, test with a hash column) and each split's expectations.

    Raises:
        MissingInputError: A split's .npz file does not exist.
        DataValidationError: A split's arrays are not images at all (not 4-D, or unpaired labels).
    """
    arrays = load_arrays(prepared)
    frames = {split: image_frame(x, y) for split, (x, y) in arrays.items()}
    train_hashes = sorted(set(image_hashes(arrays["train"][0])))
    test_hashes = image_hashes(arrays[DISJOINT_SPLIT][0])
    frames[DISJOINT_SPLIT] = frames[DISJOINT_SPLIT].assign(**{HASH_COLUMN: test_hashes})
    suites = {
        split: build_expectations(split, meta, train_hashes if split == DISJOINT_SPLIT else None)
        for split in SPLITS
    }
    return frames, suites


def load_arrays(prepared: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every split's raw `x` and `y`, or a MissingInputError naming the file that is absent."""
    arrays = {}
    for split in SPLITS:
        path = Path(prepared) / f"{split}.npz"
        if not path.exists():
            raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
        with np.load(path) as npz:
            arrays[split] = (npz["x"], npz["y"])
        x, y = arrays[split]
        # Without four dimensions or one label per image there are no per-image rows to expect anything of.
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
            raise DataValidationError(
                f"{path}: expected x of shape (N, height, width, channels) and y of shape (N,), "
                f"found x {x.shape} and y {y.shape}"
            )
    return arrays


def image_frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """One row per image: label, height, width, channels, dtype, and its smallest and largest pixel."""
    flat = x.reshape(len(x), -1)
    count = len(x)
    empty = flat.shape[1] == 0
    return pd.DataFrame(
        {
            LABEL_COLUMN: y,
            "height": np.full(count, x.shape[1], dtype=np.int64),
            "width": np.full(count, x.shape[2], dtype=np.int64),
            "channels": np.full(count, x.shape[3], dtype=np.int64),
            "dtype": [str(x.dtype)] * count,
            # An image with no pixels has no extremes; NaN fails the range checks, as it should.
            "pixel_min": np.full(count, np.nan) if empty else flat.min(axis=1),
            "pixel_max": np.full(count, np.nan) if empty else flat.max(axis=1),
        }
    )


def build_expectations(split: str, meta: dict, train_hashes: list[str] | None) -> list:
    """The expectations for one split.

    Args:
        split: "train", "val" or "test".
        meta: The prepared task's meta.json.
        train_hashes: `image_hashes` of the train split; given only for the split that must share
            no image with train, whose frame then carries a HASH_COLUMN.

    Returns:
        GX expectation objects, table-level ones first.
    """
    E = gx.expectations
    height, width, channels = (int(d) for d in meta["image_shape"])
    class_ids = list(range(len(meta["classes"])))
    expectations = [
        E.ExpectTableRowCountToEqual(value=int(meta["rows"][split])),
        E.ExpectColumnValuesToBeInSet(column="height", value_set=[height]),
        E.ExpectColumnValuesToBeInSet(column="width", value_set=[width]),
        E.ExpectColumnValuesToBeInSet(column="channels", value_set=[channels]),
        # load_split scales by 1/255: any other dtype would silently change what the models see.
        E.ExpectColumnValuesToBeInSet(column="dtype", value_set=[PIXEL_DTYPE]),
        E.ExpectColumnValuesToBeBetween(column="pixel_min", min_value=0, max_value=255),
        E.ExpectColumnValuesToBeBetween(column="pixel_max", min_value=0, max_value=255),
        E.ExpectColumnValuesToBeInTypeList(column=LABEL_COLUMN, type_list=INT_TYPES),
        E.ExpectColumnValuesToBeInSet(column=LABEL_COLUMN, value_set=class_ids),
    ]
    if split == "train":
        expectations += [
            # A classifier trained on one class learns nothing, and one never shown a class can't predict it.
            E.ExpectColumnUniqueValueCountToBeBetween(column=LABEL_COLUMN, min_value=2),
            E.ExpectColumnDistinctValuesToContainSet(column=LABEL_COLUMN, value_set=class_ids),
        ]
    if train_hashes is not None:
        expectations.append(E.ExpectColumnValuesToNotBeInSet(column=HASH_COLUMN, value_set=train_hashes))
    return expectations
