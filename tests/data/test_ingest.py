"""The ingest step on real iris: the split, meta.json, and that a failure leaves no trace.

.venv/bin/python -m pytest tests/data/test_ingest.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from crosstrain.config import Split, TableSource, TaskConfig
from crosstrain.data.ingest import digest, ingest, split_frame
from crosstrain.data.sources import load_source
from crosstrain.errors import SourceError
from crosstrain.names import LABEL_COLUMN, META_FILE, SPLITS

N_IRIS = 150
FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


@pytest.fixture(scope="module")
def iris_frame() -> pd.DataFrame:
    """Iris as the sklearn source loads it: four features and class-name labels."""
    return load_source(TaskConfig().source)


def _read(prepared: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(prepared / f"{name}.parquet") for name in SPLITS}


def _iris_csv(path: Path, keep) -> Path:
    """Real iris with a `species` column, filtered by `keep(frame)`, written as CSV."""
    bunch = load_iris(as_frame=True)
    frame = bunch.data.assign(species=[str(bunch.target_names[i]) for i in bunch.target])
    keep(frame).to_csv(path, index=False)
    return path


# --- the split ------------------------------------------------------------------------------------


def test_split_is_disjoint_and_covers_every_row(iris_frame: pd.DataFrame) -> None:
    # when
    splits = split_frame(iris_frame, TaskConfig(), seed=42)
    # then: no row is in two splits, and none is lost
    indices = [set(splits[name].index) for name in SPLITS]
    assert indices[0].isdisjoint(indices[1])
    assert indices[0].isdisjoint(indices[2])
    assert indices[1].isdisjoint(indices[2])
    assert set().union(*indices) == set(iris_frame.index)


def test_split_sizes_follow_the_fractions(iris_frame: pd.DataFrame) -> None:
    # when
    splits = split_frame(iris_frame, TaskConfig(), seed=42)
    # then: each split is its fraction of the rows, give or take rounding
    for name, fraction in FRACTIONS.items():
        assert abs(len(splits[name]) - fraction * N_IRIS) <= 1, name
    assert sum(len(part) for part in splits.values()) == N_IRIS


def test_other_fractions_are_honoured(iris_frame: pd.DataFrame) -> None:
    # given
    task = TaskConfig(split=Split(train=0.5, val=0.2, test=0.3))
    # when
    splits = split_frame(iris_frame, task, seed=42)
    # then: 75 / 30 / 45, give or take one row of rounding
    sizes = {name: len(part) for name, part in splits.items()}
    for name, expected in {"train": 75, "val": 30, "test": 45}.items():
        assert abs(sizes[name] - expected) <= 1, sizes
    assert sum(sizes.values()) == N_IRIS


def test_split_is_stratified(iris_frame: pd.DataFrame) -> None:
    # given: iris has 50 examples of each class
    # when
    splits = split_frame(iris_frame, TaskConfig(), seed=3)
    # then: every split holds every class in (about) its overall proportion
    for name, part in splits.items():
        counts = part[LABEL_COLUMN].value_counts()
        assert set(counts.index) == {"setosa", "versicolor", "virginica"}, name
        assert counts.max() - counts.min() <= 1, (name, counts.to_dict())


def test_same_seed_same_split_other_seed_other_split(tmp_path: Path) -> None:
    # when
    first = ingest("iris", TaskConfig(), 42, tmp_path / "a")
    again = ingest("iris", TaskConfig(), 42, tmp_path / "b")
    other = ingest("iris", TaskConfig(), 7, tmp_path / "c")
    # then
    assert first["digest"] == again["digest"]
    for name in SPLITS:
        pd.testing.assert_frame_equal(_read(tmp_path / "a")[name], _read(tmp_path / "b")[name])
    assert other["digest"] != first["digest"]
    assert not _read(tmp_path / "c")["test"].equals(_read(tmp_path / "a")["test"])


def test_limit_caps_only_the_train_split(tmp_path: Path) -> None:
    # given
    full = ingest("iris", TaskConfig(), 42, tmp_path / "full")
    # when
    capped = ingest("iris", TaskConfig(limit=30), 42, tmp_path / "capped")
    # then: train is cut to the limit; val and test are exactly the uncapped ones
    assert capped["rows"] == {"train": 30, "val": full["rows"]["val"], "test": full["rows"]["test"]}
    assert capped["limit"] == 30
    full_splits, capped_splits = _read(tmp_path / "full"), _read(tmp_path / "capped")
    pd.testing.assert_frame_equal(capped_splits["train"], full_splits["train"].iloc[:30])
    pd.testing.assert_frame_equal(capped_splits["val"], full_splits["val"])
    pd.testing.assert_frame_equal(capped_splits["test"], full_splits["test"])


def test_limit_above_the_train_size_changes_nothing(tmp_path: Path) -> None:
    # when
    full = ingest("iris", TaskConfig(), 42, tmp_path / "full")
    capped = ingest("iris", TaskConfig(limit=10_000), 42, tmp_path / "capped")
    # then
    assert capped["rows"] == full["rows"]
    assert capped["digest"] == full["digest"]


# --- what ingest writes -------------------------------------------------------------------------


def test_meta_json_describes_the_prepared_data(iris_prepared: Path) -> None:
    # given: iris prepared by the session fixture (default split, seed 42)
    meta = json.loads((iris_prepared / META_FILE).read_text())
    splits = _read(iris_prepared)
    features = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    # then
    assert meta["task"] == "iris"
    assert meta["seed"] == 42
    assert meta["limit"] is None
    assert meta["source"] == {"kind": "sklearn", "name": "iris"}
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["features"] == features
    assert meta["rows"] == {name: len(part) for name, part in splits.items()}
    # and: iris' one pair of identical rows (101 and 142) is kept once, so no row can sit in two splits
    assert meta["duplicates_dropped"] == 1
    assert sum(meta["rows"].values()) == N_IRIS - 1
    everything = pd.concat(splits.values())
    assert not everything.duplicated().any()
    # and: the files hold the features plus integer class indices
    for part in splits.values():
        assert list(part.columns) == [*features, LABEL_COLUMN]
        assert part[LABEL_COLUMN].dtype == np.int64
        assert set(part[LABEL_COLUMN]) == {0, 1, 2}
    # and: the digest is that of the files' contents
    assert meta["digest"] == digest(splits)
    assert len(meta["digest"]) == 64


def test_standardisation_statistics_come_from_train_only(iris_prepared: Path) -> None:
    # given
    meta = json.loads((iris_prepared / META_FILE).read_text())
    splits = _read(iris_prepared)
    train_x = splits["train"][meta["features"]].to_numpy()
    all_x = pd.concat(splits.values())[meta["features"]].to_numpy()
    # then: mean and (population) std of the train split, not of all rows
    np.testing.assert_allclose(meta["feature_mean"], train_x.mean(axis=0))
    np.testing.assert_allclose(meta["feature_std"], train_x.std(axis=0))
    assert not np.allclose(meta["feature_mean"], all_x.mean(axis=0))


def test_table_source_is_prepared_like_the_sklearn_one(tmp_path: Path) -> None:
    # given: the same iris as a CSV file
    csv = _iris_csv(tmp_path / "iris.csv", lambda frame: frame)
    task = TaskConfig(source=TableSource(path=str(csv), label_column="species"))
    # when
    from_csv = ingest("iris", task, 42, tmp_path / "csv")
    from_sklearn = ingest("iris", TaskConfig(), 42, tmp_path / "sklearn")
    # then: same classes, same split, same bytes
    assert from_csv["classes"] == from_sklearn["classes"]
    assert from_csv["digest"] == from_sklearn["digest"]
    assert from_csv["source"]["path"] == str(csv)


def test_nan_features_pass_through_to_the_prepared_data(tmp_path: Path) -> None:
    # given: two empty feature cells (the validate step, not ingest, rejects them)
    def blank(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[[3, 77], "petal width (cm)"] = np.nan
        return frame

    csv = _iris_csv(tmp_path / "iris.csv", blank)
    task = TaskConfig(source=TableSource(path=str(csv), label_column="species"))
    # when
    meta = ingest("nan", task, 42, tmp_path / "out")
    # then
    assert sum(part["petal width (cm)"].isna().sum() for part in _read(tmp_path / "out").values()) == 2
    assert all(np.isfinite(meta["feature_mean"]))


# --- data a classifier cannot be trained on --------------------------------------------------------


def test_single_class_source_is_refused(tmp_path: Path) -> None:
    # given: only the setosa rows
    csv = _iris_csv(tmp_path / "setosa.csv", lambda frame: frame[frame.species == "setosa"])
    task = TaskConfig(source=TableSource(path=str(csv), label_column="species"))
    # when
    with pytest.raises(SourceError) as err:
        ingest("one", task, 42, tmp_path / "out")
    # then
    assert "single class 'setosa'" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_class_with_fewer_than_three_examples_is_refused(tmp_path: Path) -> None:
    # given: all setosa and versicolor, but only two virginica
    def rare(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([frame[frame.species != "virginica"], frame[frame.species == "virginica"].head(2)])

    csv = _iris_csv(tmp_path / "rare.csv", rare)
    task = TaskConfig(source=TableSource(path=str(csv), label_column="species"))
    # when
    with pytest.raises(SourceError) as err:
        ingest("rare", task, 42, tmp_path / "out")
    # then
    assert "class 'virginica' has 2 example(s)" in str(err.value)
    assert not (tmp_path / "out").exists()


# --- atomic output ----------------------------------------------------------------------------------


def test_failed_ingest_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    # given: a previous good output
    out = tmp_path / "prepared" / "iris"
    before = ingest("iris", TaskConfig(), 42, out)
    files = {path.name: path.read_bytes() for path in out.iterdir()}
    bad = TaskConfig(source=TableSource(path=str(tmp_path / "absent.csv"), label_column="species"))
    # when
    with pytest.raises(SourceError):
        ingest("iris", bad, 42, out)
    # then: the old files are byte for byte the same, and no temporary directory is left over
    assert {path.name: path.read_bytes() for path in out.iterdir()} == files
    assert json.loads((out / META_FILE).read_text())["digest"] == before["digest"]
    assert sorted(path.name for path in out.parent.iterdir()) == ["iris"]


def test_successful_ingest_replaces_the_previous_output_whole(tmp_path: Path) -> None:
    # given: an output directory holding a stale file from some earlier run
    out = tmp_path / "prepared" / "iris"
    out.mkdir(parents=True)
    (out / "stale.parquet").write_text("old")
    # when
    ingest("iris", TaskConfig(), 42, out)
    # then: exactly the new files, and nothing else in the parent
    expected = sorted([META_FILE, *(f"{split}.parquet" for split in SPLITS)])
    assert sorted(path.name for path in out.iterdir()) == expected
    assert sorted(path.name for path in out.parent.iterdir()) == ["iris"]
