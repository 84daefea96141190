"""The Great Expectations suite for prepared texts: what every split must satisfy before training.

GX validates `<split>.parquet` (`text`, `label`) with one derived column, `n_tokens`, counted by the
tokenizer's own rule, so "empty" means what the models would see. One suite per split, because
two checks depend on the split: val and test must have texts of a length like train's, and test
must share no text with train.

This module imports great_expectations at the top and takes seconds to import; import it lazily.
"""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import pandas as pd

from crosstrain.data.dataset import load_frames
from crosstrain.data.text import TEXT_COLUMN, token_counts
from crosstrain.names import LABEL_COLUMN, SPLITS
from crosstrain.validation.gx_runner import HASH_COLUMN, label_expectations, row_hashes

TOKENS_COLUMN = "n_tokens"
# No review, headline or message is anywhere near this long; a row that is usually means a file
# read with the wrong separator or quoting, so many records ran together into one text.
MAX_TOKENS = 100_000
# The median text length of val/test may differ from train's by this factor either way; beyond it
# they are not the same kind of text (e.g. titles in train, full articles in test).
MEDIAN_FACTOR = 4.0
# As in the table suite: only test, the split the reported scores come from, must not share a
# text with train. The hash is of the text alone: the same text leaks whatever its label.
DISJOINT_SPLIT = "test"


def prepare_suites(prepared: Path, meta: dict) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """The frames to validate (one per split, with n_tokens; test also with a hash) and their expectations.

    Args:
        prepared: A directory written by `ingest_text`.
        meta: Its meta.json.

    Raises:
        MissingInputError: A split's Parquet file does not exist.
    """
    frames = load_frames(prepared)
    lowercase = bool(meta.get("lowercase", True))
    for split, frame in frames.items():
        texts = frame[TEXT_COLUMN] if TEXT_COLUMN in frame else pd.Series([], dtype=object)
        # A missing text is counted as 0 tokens, so it fails the token check too, not with a TypeError.
        frames[split] = frame.assign(**{TOKENS_COLUMN: token_counts(texts.fillna("").astype(str), lowercase)})
    train_hashes = sorted(set(text_hashes(frames["train"])))
    frames[DISJOINT_SPLIT] = frames[DISJOINT_SPLIT].assign(
        **{HASH_COLUMN: text_hashes(frames[DISJOINT_SPLIT])}
    )
    train_median = float(frames["train"][TOKENS_COLUMN].median()) if len(frames["train"]) else 0.0
    suites = {
        split: build_expectations(
            split,
            meta,
            median_range=None
            if split == "train"
            else (train_median / MEDIAN_FACTOR, train_median * MEDIAN_FACTOR),
            train_hashes=train_hashes if split == DISJOINT_SPLIT else None,
        )
        for split in SPLITS
    }
    return frames, suites


def text_hashes(frame: pd.DataFrame) -> pd.Series:
    """One hash per row of the text column alone (see DISJOINT_SPLIT)."""
    return row_hashes(frame, [TEXT_COLUMN])


def build_expectations(
    split: str,
    meta: dict,
    median_range: tuple[float, float] | None,
    train_hashes: list[str] | None,
) -> list:
    """The expectations for one split.

    Args:
        split: "train", "val" or "test".
        meta: The prepared task's meta.json.
        median_range: Bounds on the split's median n_tokens (from train's); None only asks for >= 1.
        train_hashes: `text_hashes` of the train split; given only for the split that must not share
            a text with train, which then must carry a HASH_COLUMN.

    Returns:
        GX expectation objects, table-level ones first.
    """
    E = gx.expectations
    columns = [TEXT_COLUMN, LABEL_COLUMN, TOKENS_COLUMN]
    # The derived columns are appended after the prepared file's own, so the ordered list still
    # checks exactly the columns ingest wrote.
    ordered = [*columns, HASH_COLUMN] if train_hashes is not None else columns
    low, high = median_range if median_range is not None else (1.0, None)
    expectations = [
        E.ExpectTableColumnsToMatchOrderedList(column_list=ordered),
        E.ExpectTableRowCountToEqual(value=int(meta["rows"][split])),
        E.ExpectColumnValuesToNotBeNull(column=TEXT_COLUMN),
        E.ExpectColumnValueLengthsToBeBetween(column=TEXT_COLUMN, min_value=1),
        # A text of only whitespace has characters but no tokens: the models would see pure padding.
        E.ExpectColumnValuesToBeBetween(column=TOKENS_COLUMN, min_value=1, max_value=MAX_TOKENS),
        E.ExpectColumnMedianToBeBetween(column=TOKENS_COLUMN, min_value=low, max_value=high),
    ]
    return expectations + label_expectations(split, meta, train_hashes)
