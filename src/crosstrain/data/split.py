"""One stratified train/val/test split for every modality, drawn from the seed.

Works on labels alone and returns row positions, so tables, images and texts are split by the
same rule. When a source ships its own test split, that split stays the test split and only
train/val is drawn here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from crosstrain.config import Split
from crosstrain.errors import SourceError


def check_classes(labels: np.ndarray | pd.Series, *, where: str = "label column", minimum: int = 3) -> None:
    """At least two classes, each with at least `minimum` examples (one per split)."""
    counts = pd.Series(labels).value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "none"
        raise SourceError(f"{where} has a single class {only!r}; a classifier needs at least two classes")
    rare = counts[counts < minimum]
    if len(rare):
        raise SourceError(
            f"class {rare.index[0]!r} has {int(rare.iloc[0])} example(s); each class needs at least "
            f"{minimum} to appear in every split"
        )


def split_indices(
    labels: np.ndarray | pd.Series, split: Split, seed: int, *, has_test: bool = False
) -> dict[str, np.ndarray]:
    """Row positions of train/val/test (or of train/val only when the source ships its test split)."""
    try:
        return _split_indices(np.asarray(labels), split, seed, has_test)
    except ValueError as err:
        # sklearn refuses a stratified split smaller than the number of classes; say what to change.
        raise SourceError(
            f"cannot split {len(labels)} examples of {len(set(np.asarray(labels).tolist()))} classes with "
            f"fractions train {split.train}, val {split.val}, test {split.test}: {err}"
        ) from None


def _split_indices(labels: np.ndarray, split: Split, seed: int, has_test: bool) -> dict[str, np.ndarray]:
    positions = np.arange(len(labels))
    if has_test:
        check_classes(labels, minimum=2)
        train, val = train_test_split(
            positions, test_size=split.val / (split.train + split.val), stratify=labels, random_state=seed
        )
        return {"train": train, "val": val}
    check_classes(labels)
    rest, test = train_test_split(positions, test_size=split.test, stratify=labels, random_state=seed)
    train, val = train_test_split(
        rest, test_size=split.val / (split.train + split.val), stratify=labels[rest], random_state=seed
    )
    return {"train": train, "val": val, "test": test}


def limit(train: np.ndarray, cap: int | None) -> np.ndarray:
    """The first `cap` positions of the (already shuffled) training split."""
    return train if cap is None else train[:cap]
