"""The registered model as a service calls it: what a caller has in, class names and probabilities out.

Both frameworks' models are logged as this one MLflow pyfunc around their native saved model (the
`.keras` file, or the state_dict and architecture), so `mlflow.pyfunc.load_model("models:/...@champion")`
and `mlflow models serve` behave identically for TensorFlow and PyTorch. The preprocessing travels with
the model in `serving.json`: a table's feature columns (the model standardises them itself), an image's
shape and pixel scaling, a text task's vocabulary and tokenizer settings. A caller passes

- tables: a DataFrame with the feature columns (extra columns are ignored),
- images: an array of pixel values 0-255, shape (n, height, width[, channels]),
- texts: raw strings (a list, or a DataFrame's first column; over HTTP `{"inputs": ["..."]}`),

and gets a DataFrame with `class` (the predicted class name), `probability` (its softmax probability)
and one `p(<class>)` column per class, in the task's class order.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstrain.data.dataset import load_frames, scale_images
from crosstrain.data.text import TEXT_COLUMN, load_tokenizer
from crosstrain.data.tokenize import Tokenizer

SERVING_FILE = "serving.json"
NATIVE_DIR = "native"  # the pyfunc data directory: the framework's own saved model and serving.json
CLASS_COLUMN, PROBABILITY_COLUMN = "class", "probability"


def probability_column(name: str) -> str:
    """The output column holding class `name`'s probability."""
    return f"p({name})"


class ServingInputError(ValueError):
    """A request the model cannot read: says which column, shape or value and what was expected."""


@dataclass(frozen=True)
class Inputs:
    """How a caller's input becomes the model's array, read from the prepared task's meta.json."""

    framework: str
    modality: str
    classes: tuple[str, ...]
    features: tuple[str, ...] = ()
    image_shape: tuple[int, ...] = ()  # (height, width, channels)
    image_meta: dict | None = None  # the pixel scaling ingest recorded (scale, pixel_mean, pixel_std)
    vocab: tuple[str, ...] = ()
    seq_len: int = 0
    lowercase: bool = True

    @classmethod
    def from_prepared(cls, framework: str, meta: dict, prepared: Path) -> Inputs:
        """What serving needs of a prepared task (texts read their fitted vocabulary too)."""
        common = {"framework": framework, "modality": meta["modality"],
                  "classes": tuple(str(c) for c in meta["classes"])}
        if meta["modality"] == "table":
            return cls(**common, features=tuple(meta["features"]))
        if meta["modality"] == "image":
            shape = np.load(Path(prepared) / "test.npz")["x"].shape[1:]
            scaling = {k: meta[k] for k in ("scale", "pixel_mean", "pixel_std") if k in meta}
            return cls(**common, image_shape=tuple(int(d) for d in shape), image_meta=scaling)
        tokenizer = load_tokenizer(prepared)
        return cls(**common, vocab=tokenizer.vocab, seq_len=tokenizer.seq_len, lowercase=tokenizer.lowercase)

    @classmethod
    def read(cls, path: Path) -> Inputs:
        """The Inputs saved beside the native model."""
        fields = json.loads(Path(path).read_text())
        for key in ("classes", "features", "image_shape", "vocab"):
            fields[key] = tuple(fields[key])
        return cls(**fields)

    def write(self, path: Path) -> None:
        """Save as JSON (tuples become lists; `read` turns them back)."""
        Path(path).write_text(json.dumps(asdict(self), ensure_ascii=False) + "\n")

    def encode(self, model_input: Any) -> np.ndarray:
        """The model's input array for a request, or a ServingInputError saying what was expected."""
        if self.modality == "table":
            return self._table(model_input)
        if self.modality == "image":
            return self._images(model_input)
        tokenizer = Tokenizer(self.vocab, seq_len=self.seq_len, lowercase=self.lowercase)
        return tokenizer.encode(_texts(model_input))

    def outputs(self, logits: np.ndarray) -> pd.DataFrame:
        """Class names and softmax probabilities for a batch of logits."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        frame = pd.DataFrame({CLASS_COLUMN: [self.classes[i] for i in best],
                              PROBABILITY_COLUMN: probs[np.arange(len(best)), best].astype(float)})
        for i, name in enumerate(self.classes):
            frame[probability_column(name)] = probs[:, i].astype(float)
        return frame

    def example(self, prepared: Path, rows: int = 2) -> Any:
        """The first `rows` test inputs in the form a caller sends them: the logged input example."""
        if self.modality == "image":
            return np.load(Path(prepared) / "test.npz")["x"][:rows]
        test = load_frames(prepared)["test"].head(rows)
        if self.modality == "table":
            return test[list(self.features)]
        return test[TEXT_COLUMN].tolist()  # a list of strings: `{"inputs": ["...", "..."]}` over HTTP

    def _table(self, model_input: Any) -> np.ndarray:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        missing = [c for c in self.features if c not in model_input.columns]
        if missing:
            raise ServingInputError(f"missing feature column(s) {missing}: expected {list(self.features)}")
        try:
            return model_input[list(self.features)].to_numpy(np.float32)
        except (TypeError, ValueError) as err:
            raise ServingInputError(f"feature columns must be numeric: {err}") from None

    def _images(self, model_input: Any) -> np.ndarray:
        pixels = np.asarray(model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else model_input,
                            dtype=np.float64)
        height, width, channels = self.image_shape
        if pixels.ndim == 3 and channels == 1:
            pixels = pixels[..., None]
        if pixels.shape[1:] != self.image_shape:
            raise ServingInputError(
                f"images must have shape (n, {height}, {width}, {channels}) (or (n, {height}, {width}) "
                f"for one channel), got {pixels.shape}")
        if pixels.min(initial=0.0) < 0 or pixels.max(initial=0.0) > 255:
            raise ServingInputError("pixel values must be 0-255, as the training images were")
        # Rounded to the uint8 the model was trained on, then scaled exactly as training scaled them.
        return scale_images(np.rint(pixels).astype(np.uint8), self.image_meta or {})


def _texts(model_input: Any) -> Sequence[str]:
    if isinstance(model_input, pd.DataFrame):
        model_input = model_input.iloc[:, 0]
    texts = list(np.asarray(model_input, dtype=object).reshape(-1))
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ServingInputError(f"texts must be strings: item {bad} is {type(texts[bad]).__name__}")
    return texts


class CrosstrainModel:
    """The pyfunc both frameworks are registered as (see the module docstring for its input and output).

    Loaded by MLflow through `_load_pyfunc` (the `loader_module` workflow): a `PythonModel` subclass
    without type hints on `predict` makes MLflow 3 warn on every import, and hints would make MLflow
    convert the input itself, which an image array does not survive; the signature is the schema.
    """

    def __init__(self, native: Path) -> None:
        from crosstrain import backends

        self.inputs = Inputs.read(native / SERVING_FILE)
        backend = backends.get(self.inputs.framework)
        self.predict_logits = backend.make_predict(backend.load(native))

    def predict(self, model_input: Any, params: dict | None = None) -> pd.DataFrame:
        """Class names and probabilities for a batch of inputs."""
        return self.inputs.outputs(np.asarray(self.predict_logits(self.inputs.encode(model_input))))


def _load_pyfunc(data_path: str) -> CrosstrainModel:
    """What `mlflow.pyfunc.load_model` calls, with the logged native model's directory."""
    return CrosstrainModel(Path(data_path))


def log_model(backend: Any, model: Any, inputs: Inputs, example: Any) -> Any:
    """Log `model` to the active MLflow run as a CrosstrainModel pyfunc; returns the ModelInfo.

    `backend` is the model's framework backend (crosstrain.backends.Backend): it saves the native
    model and names the pip requirements; the model loads back through the same backend.
    """
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        native = Path(tmp) / NATIVE_DIR
        native.mkdir()
        backend.save(model, native)
        inputs.write(native / SERVING_FILE)
        served = inputs.outputs(np.asarray(backend.make_predict(model)(inputs.encode(example))))
        return mlflow.pyfunc.log_model(
            name="model",
            loader_module=__name__,
            data_path=str(native),
            signature=infer_signature(example, served),
            input_example=example,
            pip_requirements=backend.pip_requirements(),
        )
