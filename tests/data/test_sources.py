"""Loading sources: real iris written as CSV, TSV, Parquet and JSON Lines, and every way a file can be wrong.

.venv/bin/python -m pytest tests/data/test_sources.py -q
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from crosstrain.config import SklearnSource, TableSource
from crosstrain.data.sources import load_source
from crosstrain.errors import SourceError
from crosstrain.names import LABEL_COLUMN

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
# A closed port on loopback: the connection is refused at once, and nothing leaves the machine.
UNREACHABLE_URL = "http://127.0.0.1:9/nope.csv"


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    """Real iris as a user's table would hold it: four numeric columns and a `species` name column."""
    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame


def _expected(iris: pd.DataFrame) -> pd.DataFrame:
    """What load_source must return for the iris table: float features, then `label`."""
    out = iris[FEATURES].astype("float64")
    out[LABEL_COLUMN] = iris["species"].to_numpy()
    return out


def _write(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` in the format the suffix of `path` names."""
    name = path.name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    elif ".tsv" in name:
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_csv(path, index=False)  # .csv and .csv.gz (pandas compresses by suffix)
    return path


def _table(path: Path, **kwargs) -> TableSource:
    return TableSource(path=str(path), label_column=kwargs.pop("label_column", "species"), **kwargs)


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["iris.csv", "iris.tsv", "iris.parquet", "iris.jsonl", "iris.csv.gz"])
def test_every_format_loads_to_the_same_frame(iris: pd.DataFrame, tmp_path: Path, filename: str) -> None:
    # given: real iris written in one format, the format inferred from the suffix
    path = _write(iris, tmp_path / filename)
    # when
    frame = load_source(_table(path))
    # then
    pd.testing.assert_frame_equal(frame, _expected(iris))


def test_explicit_format_overrides_the_suffix(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: a CSV file whose name says nothing about its format
    path = tmp_path / "iris.data"
    iris.to_csv(path, index=False)
    # when
    frame = load_source(_table(path, format="csv"))
    # then
    pd.testing.assert_frame_equal(frame, _expected(iris))


def test_feature_columns_select_and_order_the_features(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: a table with an extra text column the user does not want as a feature
    table = iris.assign(note="ok")
    path = _write(table, tmp_path / "iris.csv")
    chosen = ["petal width (cm)", "sepal length (cm)"]
    # when
    frame = load_source(_table(path, feature_columns=chosen))
    # then
    assert list(frame.columns) == [*chosen, LABEL_COLUMN]
    assert frame["petal width (cm)"].tolist() == iris["petal width (cm)"].tolist()


def test_integer_labels_become_strings(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: labels stored as class numbers
    table = iris.assign(species=load_iris().target)
    path = _write(table, tmp_path / "iris.parquet")
    # when
    frame = load_source(_table(path))
    # then
    assert sorted(frame[LABEL_COLUMN].unique()) == ["0", "1", "2"]


def test_missing_feature_values_pass_through_as_nan(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: one empty feature cell (validate rejects NaNs later; loading keeps them)
    table = iris.copy()
    table.loc[5, "sepal width (cm)"] = None
    path = _write(table, tmp_path / "iris.csv")
    # when
    frame = load_source(_table(path))
    # then
    assert frame["sepal width (cm)"].isna().sum() == 1
    assert pd.isna(frame.loc[5, "sepal width (cm)"])


def test_sklearn_source_has_class_names_as_labels() -> None:
    # when
    frame = load_source(SklearnSource(name="iris"))
    # then
    assert list(frame.columns) == [*FEATURES, LABEL_COLUMN]
    assert len(frame) == 150
    assert sorted(frame[LABEL_COLUMN].unique()) == ["setosa", "versicolor", "virginica"]


# --- errors ---------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    # given
    path = tmp_path / "raw" / "absent.csv"
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    assert str(path) in str(err.value)
    assert "not found" in str(err.value)


def test_no_label_column_lists_the_columns(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    path = _write(iris, tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path, label_column="class"))
    # then
    message = str(err.value)
    assert str(path) in message
    assert "no label column 'class'" in message
    assert "species" in message and "petal width (cm)" in message


def test_missing_feature_column_is_named(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    path = _write(iris, tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path, feature_columns=["sepal length (cm)", "stem length"]))
    # then
    assert "'stem length'" in str(err.value)


def test_non_numeric_feature_names_the_column_and_a_bad_value(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: one feature cell holds text
    table = iris.astype({"petal length (cm)": object})
    table.loc[17, "petal length (cm)"] = "n/a-ish"
    path = _write(table, tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    message = str(err.value)
    assert str(path) in message
    assert "'petal length (cm)'" in message
    assert "'n/a-ish'" in message
    assert "row 17" in message


def test_empty_label_value_names_the_row(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    table = iris.copy()
    table.loc[42, "species"] = None
    path = _write(table, tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    assert "label column 'species' is empty in row 42" in str(err.value)


def test_unknown_suffix_asks_for_a_format(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    path = tmp_path / "iris.data"
    iris.to_csv(path, index=False)
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    assert str(path) in str(err.value)
    assert "source.format" in str(err.value)


def test_file_in_the_wrong_format(tmp_path: Path) -> None:
    # given: text that is not Parquet, named .parquet
    path = tmp_path / "iris.parquet"
    path.write_text("species,x\nsetosa,1\n")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    assert str(path) in str(err.value)
    assert "parquet" in str(err.value)


def test_header_only_file_has_no_rows(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    path = _write(iris.iloc[:0], tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then
    assert "has no rows" in str(err.value)


def test_unreachable_url_fails_quickly_naming_the_url() -> None:
    # given: a URL on a closed loopback port
    started = time.monotonic()
    # when
    with pytest.raises(SourceError) as err:
        load_source(TableSource(path=UNREACHABLE_URL, label_column="species"))
    # then: it says the URL could not be reached (not "not found"), without waiting for a timeout
    assert UNREACHABLE_URL in str(err.value)
    assert "could not be reached" in str(err.value)
    assert time.monotonic() - started < 10


def test_feature_named_label_is_refused(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given: a feature column called `label`, which the prepared data uses for the labels
    path = _write(iris.assign(label=1.0), tmp_path / "iris.csv")
    # when
    with pytest.raises(SourceError) as err:
        load_source(_table(path))
    # then: refused, rather than the feature silently replaced by the labels
    assert "feature column 'label'" in str(err.value)


def test_label_column_may_be_called_label(iris: pd.DataFrame, tmp_path: Path) -> None:
    # given
    path = _write(iris.rename(columns={"species": "label"}), tmp_path / "iris.csv")
    # when
    frame = load_source(_table(path, label_column="label"))
    # then
    pd.testing.assert_frame_equal(frame, _expected(iris))
