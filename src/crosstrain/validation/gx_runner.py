"""Running Great Expectations suites: one Checkpoint per split, Data Docs, a plain-JSON summary.

Shared by the table, image and text suites (`tabular.py`, `images.py`, `text.py`), which only say
*what* to expect. This module imports great_expectations at the top and takes seconds to import;
import it lazily.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from crosstrain.names import LABEL_COLUMN

# GX logs every store and site it touches at INFO; a pipeline step should only say what failed.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

# GX has no expectation across two tables, so train/test overlap checks run on this column, which
# the suites add to the test frame: one hash per example (row, image or text) and its label.
HASH_COLUMN = "_row_hash"
# SUMMARY keeps a few examples per failed expectation without materialising every bad value.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 3}
DOCS_SITE = "crosstrain"
MAX_EXAMPLES = 3
LABEL_TYPES = ["int32", "int64"]


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hex string per row of `columns`, equal exactly when two rows have equal values.

    Strings rather than uint64: they survive JSON (suite configs, Data Docs) without losing bits.
    """
    present = [c for c in columns if c in frame.columns]
    hashes = pd.util.hash_pandas_object(frame[present], index=False)
    return hashes.map("{:016x}".format).astype(object)


def label_expectations(
    split: str, meta: dict, train_hashes: list[str] | None
) -> list[gx.expectations.Expectation]:
    """The checks that close the table and text suites: labels, and for one split no example of train's.

    Labels are non-null integer class indices; train must hold two classes or more; and the split
    given `train_hashes` must carry a HASH_COLUMN with none of them.
    """
    E = gx.expectations
    expectations: list[gx.expectations.Expectation] = [
        E.ExpectColumnValuesToBeInTypeList(column=LABEL_COLUMN, type_list=LABEL_TYPES),
        E.ExpectColumnValuesToNotBeNull(column=LABEL_COLUMN),
        E.ExpectColumnValuesToBeInSet(column=LABEL_COLUMN, value_set=list(range(len(meta["classes"])))),
    ]
    if split == "train":
        # A classifier trained on one class learns nothing; ingest checks the source, this the split.
        expectations.append(E.ExpectColumnUniqueValueCountToBeBetween(column=LABEL_COLUMN, min_value=2))
    if train_hashes is not None:
        expectations.append(E.ExpectColumnValuesToNotBeInSet(column=HASH_COLUMN, value_set=train_hashes))
    return expectations


def _context(docs_dir: Path):
    """An in-memory GX context whose only Data Docs site is `docs_dir`, without progress bars."""
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(Path(docs_dir).absolute()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites={DOCS_SITE: site},
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suites(frames: dict[str, pd.DataFrame], suites: dict[str, list], docs_dir: Path, name: str) -> dict:
    """Validate each frame against its suite and build the Data Docs in `docs_dir`.

    Args:
        frames: Split name to the frame to validate.
        suites: Split name to its expectations (from `build_expectations`).
        docs_dir: Where the Data Docs site is written; index.html lands at its top.
        name: Prefix of the suite names shown in the Data Docs, e.g. the task name.

    Returns:
        Split name to {"success": bool, "results": [summary per expectation]}.
    """
    context = _context(docs_dir)
    source = context.data_sources.add_pandas(name)
    outcome = {}
    for split, frame in frames.items():
        batch = source.add_dataframe_asset(split).add_batch_definition_whole_dataframe(split)
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}.{split}", expectations=suites[split]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{split}", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}.{split}",
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])],
                result_format=RESULT_FORMAT,
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        results = [
            summarise(r, list(frame.columns))
            for suite_result in result.run_results.values()
            for r in suite_result.results
        ]
        outcome[split] = {"success": all(r["success"] for r in results), "results": results}
    return outcome


def summarise(result: ExpectationValidationResult, columns: list[str]) -> dict:
    """One ExpectationValidationResult as plain JSON-safe values: what failed, where, and examples.

    Args:
        result: A GX ExpectationValidationResult.
        columns: The columns of the validated frame, to tell a missing column from other errors.
    """
    config = result.expectation_config
    if config is None:  # GX fills it in for every result a checkpoint returns
        raise TypeError("a Great Expectations result without its expectation's configuration")
    details = result.result or {}
    column = config.kwargs.get("column")
    error = _error(result.exception_info)
    if error is not None and column is not None and column not in columns:
        # GX's own message for a missing column can be an IndexError; say what is actually wrong.
        error = "column is missing"
    unexpected = _plain(details.get("unexpected_count"))
    # Distinct examples: three NaNs say less than one.
    examples = list(dict.fromkeys(_plain(list(details.get("partial_unexpected_list") or []))))
    # Table-level checks have no bad values to show, so keep what they were compared with instead;
    # column-level value sets (the train row hashes) would only bloat the summary.
    expected = None
    if unexpected is None:
        expected = _plain({k: v for k, v in config.kwargs.items() if k not in ("column", "batch_id")})
    return {
        "expectation": config.type,
        "column": column,
        "success": bool(result.success),
        "unexpected_count": unexpected,
        "examples": examples[:MAX_EXAMPLES],
        "rows": _plain(list(details.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]),
        "observed": _plain(details.get("observed_value")),
        "expected": expected,
        "error": error,
    }


def _error(info: dict | None) -> str | None:
    """The message of an exception GX caught while evaluating, or None.

    GX reports an error in the expectation itself flat, and one in a metric it needed nested
    under that metric's id.
    """
    if not info:
        return None
    nested = [v for v in info.values() if isinstance(v, dict)]
    for entry in [info, *nested]:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "raised an exception")
    return None


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones; NaN and inf to strings, which strict JSON readers reject otherwise."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
