"""The validate step: run the table suite on every prepared split; fail loudly before training.

    crosstrain validate --task iris     # CLI; dvc.yaml's `validate` stage runs the same

On success it writes `validation.json` (the summary below) and `data_docs/` (GX Data Docs) into
`out_dir`. On failure it writes nothing and raises DataValidationError naming each failed
expectation with its split, column and a few bad values.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from crosstrain.data.dataset import load_meta
from crosstrain.errors import DataValidationError, MissingInputError
from crosstrain.io import atomic_dir, atomic_write_json
from crosstrain.names import DATA_DOCS_DIR, VALIDATION_FILE

# One suite module per modality, each with `prepare_suites(prepared, meta) -> (frames, suites)`:
# the DataFrames GX validates per split, and the expectations for each.
SUITES = {
    "table": "crosstrain.validation.tabular",
    "image": "crosstrain.validation.images",
    "text": "crosstrain.validation.text",
}


def validate(prepared: Path, out_dir: Path) -> dict:
    """Run the table suite on every split of `prepared` and write the results to `out_dir`.

    Args:
        prepared: A directory written by `ingest`: meta.json and one Parquet file per split.
        out_dir: Receives validation.json and data_docs/ (index.html at data_docs/index.html);
            replaced as a whole on success, left untouched on failure.

    Returns:
        The summary also written to validation.json: {"success", "evaluated", "failed",
        "splits": {split: {"success", "results": [...]}}, "data_docs"}.

    Raises:
        MissingInputError: `prepared`, its meta.json or a split file does not exist.
        DataValidationError: At least one expectation failed; `failures` lists them.
    """
    prepared, out_dir = Path(prepared), Path(out_dir)
    if not prepared.is_dir():
        raise MissingInputError(f"{prepared} not found: run `crosstrain ingest` for this task first")
    meta = load_meta(prepared)
    # Imported here because great_expectations takes seconds to import, and the CLI imports this module.
    from crosstrain.validation import gx_runner

    suite_module = importlib.import_module(SUITES[meta.get("modality", "table")])
    frames, suites = suite_module.prepare_suites(prepared, meta)
    with atomic_dir(out_dir) as tmp:
        splits = gx_runner.run_suites(
            frames, suites, tmp / DATA_DOCS_DIR, name=str(meta.get("task", "prepared"))
        )
        results = [r for split in splits.values() for r in split["results"]]
        failed = sum(not r["success"] for r in results)
        summary = {
            "success": failed == 0,
            "evaluated": len(results),
            "failed": failed,
            "splits": splits,
            "data_docs": f"{DATA_DOCS_DIR}/index.html",
        }
        if failed:
            # Raised inside the block so atomic_dir discards the half-built output.
            failures = [
                {"split": name, **r}
                for name, split in splits.items()
                for r in split["results"]
                if not r["success"]
            ]
            raise DataValidationError(_message(prepared, summary, failures, gx_runner.HASH_COLUMN), failures)
        atomic_write_json(tmp / VALIDATION_FILE, summary)
    return summary


def _message(prepared: Path, summary: dict, failures: list[dict], hash_column: str) -> str:
    """A short human summary: one line per failed expectation, with up to 3 examples."""
    head = f"validation failed for {prepared} ({summary['failed']} of {summary['evaluated']} expectations):"
    return "\n".join([head, *(f"  - {_describe(f, hash_column)}" for f in failures)])


def _describe(failure: dict, hash_column: str) -> str:
    where = f"{failure['split']}: {failure['expectation']}"
    if failure["column"] is not None:
        where += f' on "{failure["column"]}"'
    if failure["error"] is not None:
        return f"{where}: could not be evaluated ({failure['error']})"
    if failure["unexpected_count"] is None:
        expected = ", ".join(f"{k}={v}" for k, v in (failure["expected"] or {}).items())
        return f"{where}: observed {failure['observed']}, expected {expected}"
    if failure["column"] == hash_column:
        # A hash means nothing to a reader; the row numbers say where to look.
        rows = ", ".join(str(r) for r in failure["rows"])
        return f"{where}: {failure['unexpected_count']} row(s) also in train, e.g. test row {rows} (0-based)"
    examples = ", ".join(str(v) for v in failure["examples"])
    return f"{where}: {failure['unexpected_count']} unexpected, e.g. {examples}"
