"""Load a task's source into one DataFrame of numeric features plus a label column.

Sources are chosen by their `kind` field (see `crosstrain.config.Source`); adding a kind means
adding a loader to `LOADERS`. Every failure names the path or column and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

import fsspec
import pandas as pd

from crosstrain.config import SklearnSource, Source, TableSource
from crosstrain.errors import SourceError
from crosstrain.names import LABEL_COLUMN

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}


def load_sklearn(source: SklearnSource) -> pd.DataFrame:
    """A table bundled with scikit-learn, labels as class names."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{source.name}")(as_frame=True)
    frame = bunch.frame.drop(columns=["target"])
    frame[LABEL_COLUMN] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame


def _format_of(source: TableSource) -> str:
    if source.format:
        return source.format
    suffixes = PurePosixPath(source.path.split("?")[0]).suffixes
    for suffix in reversed(suffixes):
        if suffix.lower() in FORMATS:
            return FORMATS[suffix.lower()]
    raise SourceError(
        f"source {source.path!r}: cannot tell the format from the suffix; set source.format to one of "
        "csv, tsv, parquet, jsonl"
    )


def _read(source: TableSource, fmt: str) -> pd.DataFrame:
    try:
        with fsspec.open(source.path, "rb", compression="infer") as handle:
            if fmt == "parquet":
                return pd.read_parquet(handle)
            if fmt == "jsonl":
                return pd.read_json(handle, lines=True)
            return pd.read_csv(handle, sep="\t" if fmt == "tsv" else ",")
    except FileNotFoundError as err:
        # fsspec's HTTP filesystem reports *any* failure (refused connection, DNS, timeout) as
        # FileNotFoundError; its cause says what really happened.
        cause = err.__cause__
        if cause is not None and not isinstance(cause, FileNotFoundError):
            raise SourceError(f"source {source.path!r} could not be reached: {cause}") from None
        raise SourceError(f"source file {source.path!r} not found") from None
    except (OSError, ValueError, ImportError) as err:
        # fsspec raises OSError-family errors for unreachable URLs; pandas raises ValueError on bad files.
        raise SourceError(f"source {source.path!r} could not be read as {fmt}: {err}") from None
    except pd.errors.ParserError as err:
        raise SourceError(f"source {source.path!r} is not valid {fmt}: {err}") from None


def load_table(source: TableSource) -> pd.DataFrame:
    """A CSV/TSV/Parquet/JSON Lines file through fsspec, with numeric feature columns."""
    frame = _read(source, _format_of(source))
    if source.label_column not in frame.columns:
        raise SourceError(
            f"source {source.path!r} has no label column {source.label_column!r} "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    features = source.feature_columns or [c for c in frame.columns if c != source.label_column]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise SourceError(f"source {source.path!r} has no feature column(s) {', '.join(map(repr, missing))}")
    if not features:
        raise SourceError(f"source {source.path!r} has no feature columns besides {source.label_column!r}")
    if LABEL_COLUMN in map(str, features):
        # The prepared data stores the labels under this name; the feature would be overwritten.
        raise SourceError(
            f"source {source.path!r}: feature column {LABEL_COLUMN!r} clashes with the name crosstrain gives "
            "the labels; rename it, or leave it out with source.feature_columns"
        )
    for column in features:
        if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][converted.isna() & frame[column].notna()]
            if len(bad):
                raise SourceError(
                    f"source {source.path!r}: feature column {column!r} must be numeric, "
                    f"found {bad.iloc[0]!r} (row {bad.index[0]}); drop it with source.feature_columns"
                )
    out = frame[features].apply(pd.to_numeric).astype("float64")
    out.columns = [str(c) for c in out.columns]
    labels = frame[source.label_column]
    if labels.isna().any():
        row = int(labels[labels.isna()].index[0])
        raise SourceError(
            f"source {source.path!r}: label column {source.label_column!r} is empty in row {row}"
        )
    out[LABEL_COLUMN] = labels.astype(str).to_numpy()
    return out


LOADERS: dict[type, Callable[..., pd.DataFrame]] = {
    SklearnSource: load_sklearn,
    TableSource: load_table,
}


def load_source(source: Source) -> pd.DataFrame:
    """Load any source: numeric feature columns plus `label` (class names as strings)."""
    frame = LOADERS[type(source)](source)
    if frame.empty:
        raise SourceError(f"source {getattr(source, 'path', source.kind)!r} has no rows")
    return frame
