"""The validate step on real iris data, through real Great Expectations (no mocks).

.venv/bin/python -m pytest tests/validation -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crosstrain.config import TaskConfig
from crosstrain.data.ingest import ingest
from crosstrain.errors import DataValidationError, MissingInputError
from crosstrain.names import DATA_DOCS_DIR, LABEL_COLUMN, VALIDATION_FILE
from crosstrain.validation import validate


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Iris prepared once by the real ingest step, with the default split and seed 42."""
    out = tmp_path_factory.mktemp("iris") / "prep"
    ingest("iris", TaskConfig(), 42, out)
    return out


def _edit(prepared: Path, split: str, change) -> None:
    """Rewrite one split's Parquet file with `change(frame)` applied."""
    path = prepared / f"{split}.parquet"
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


def _failed(err: pytest.ExceptionInfo[DataValidationError]) -> list[tuple[str, str, str | None]]:
    return [(f["split"], f["expectation"], f["column"]) for f in err.value.failures]


def test_valid_iris_passes_and_writes_summary_and_docs(prepared: Path, tmp_path: Path) -> None:
    # given: iris as ingest prepares it by default
    out = tmp_path / "validation"
    # when
    summary = validate(prepared, out)
    # then: every expectation passed, and the summary on disk is the one returned
    assert summary["success"] is True
    assert summary["failed"] == 0 and summary["evaluated"] > 0
    assert set(summary["splits"]) == {"train", "val", "test"}
    assert json.loads((out / VALIDATION_FILE).read_text()) == summary
    assert (out / DATA_DOCS_DIR / "index.html").is_file()
    assert summary["data_docs"] == f"{DATA_DOCS_DIR}/index.html"


def test_nan_feature_in_train_fails_and_writes_nothing(prepared: Path, tmp_path: Path) -> None:
    # given: three missing values in one train feature
    def add_nans(frame: pd.DataFrame) -> None:
        frame.loc[[0, 5, 9], "petal width (cm)"] = float("nan")

    _edit(prepared, "train", add_nans)
    out = tmp_path / "validation"
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, out)
    # then: the message names the split, expectation and column, and shows the bad value
    assert 'train: expect_column_values_to_not_be_null on "petal width (cm)": 3 unexpected, e.g. nan' in str(
        err.value
    )
    assert ("train", "expect_column_values_to_not_be_null", "petal width (cm)") in _failed(err)
    assert not out.exists()
    assert not list(tmp_path.glob(".validation.*"))


def test_label_outside_classes_in_test_fails(prepared: Path, tmp_path: Path) -> None:
    # given: a test label that is no class index of iris's three classes
    def bad_label(frame: pd.DataFrame) -> None:
        frame.loc[0, LABEL_COLUMN] = 7

    _edit(prepared, "test", bad_label)
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then
    assert 'test: expect_column_values_to_be_in_set on "label": 1 unexpected, e.g. 7' in str(err.value)
    assert _failed(err) == [("test", "expect_column_values_to_be_in_set", LABEL_COLUMN)]


def test_train_row_copied_into_test_fails_overlap_check(prepared: Path, tmp_path: Path) -> None:
    # given: test's first row replaced by a train row (row count and ranges unchanged)
    train = pd.read_parquet(prepared / "train.parquet")

    def leak(frame: pd.DataFrame) -> None:
        frame.loc[0] = train.loc[10]

    _edit(prepared, "test", leak)
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then: only the overlap check fails, and it points at the leaked row
    assert _failed(err) == [("test", "expect_column_values_to_not_be_in_set", "_row_hash")]
    assert "also in train, e.g. test row 0" in str(err.value)


def test_single_class_train_fails_distinct_values(prepared: Path, tmp_path: Path) -> None:
    # given: every train example relabelled to class 0
    def one_class(frame: pd.DataFrame) -> None:
        frame[LABEL_COLUMN] = 0

    _edit(prepared, "train", one_class)
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then
    assert ("train", "expect_column_unique_value_count_to_be_between", LABEL_COLUMN) in _failed(err)
    assert "observed 1, expected min_value=2" in str(err.value)


def test_missing_prepared_dir_names_the_path(tmp_path: Path) -> None:
    # given: a prepared directory that ingest never wrote
    missing = tmp_path / "no-such-task"
    # when / then
    with pytest.raises(MissingInputError, match=str(missing)):
        validate(missing, tmp_path / "validation")
    assert not (tmp_path / "validation").exists()
