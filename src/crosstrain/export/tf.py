"""Keras (TensorFlow backend) → ONNX: `Model.export(format="onnx")`, which converts through tf2onnx.

Mirrors `crosstrain.export.torch`: `export_onnx` writes one self-contained `.onnx` file whose first
input dimension (the batch) is dynamic, and says which converter wrote it.

Keras 3.15's export hands tf2onnx a concrete function and passes every non-resource input of it as a
graph input, including tensors the function *captures*. The iris models' Normalization layer holds its
train-split mean and variance as such captured constants, so `Model.export` turns them into two extra,
unfed ONNX inputs. For those models crosstrain converts with `tf2onnx.convert.from_keras` instead: the
same converter (and Keras' own numpy-2 patch of it), which drops captures from the inputs and freezes
them into initialisers.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crosstrain.models import tf as tf_models  # sets KERAS_BACKEND before Keras is imported

if TYPE_CHECKING:  # annotations only: at run time Keras comes in through crosstrain.models.tf, above
    import keras

tf = tf_models.tf

BATCH = "batch"
KERAS_EXPORT = "keras.Model.export"
TF2ONNX_FROM_KERAS = "tf2onnx.convert.from_keras"


@contextlib.contextmanager
def _quiet():
    """tf2onnx logs every rewriter pass at INFO, Keras prints "Saved artifact at ..." and its numpy-2 patch
    of tf2onnx warns about `np.object`."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _name_batch(path: Path) -> int:
    """Name the open first dimension `batch` (tf2onnx calls it `unk__N`); returns the graph's input count."""
    import onnx

    proto = onnx.load(str(path))
    for value in [*proto.graph.input, *proto.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if dim.dim_param or not dim.HasField("dim_value"):
            dim.dim_param = BATCH
    onnx.save(proto, str(path))
    return len(proto.graph.input)


def export_onnx(model: keras.Model, path: Path, example: np.ndarray, opset: int) -> str:
    """Write `model` (inference mode) to `path` as ONNX at `opset`, batch dimension dynamic.

    `example` fixes the input dtype (float32 features/pixels, int64 token ids); the shape is the model
    input's with the batch left open. Returns the converter used (see the module docstring).
    """
    spec = model.inputs[0]
    dtype = tf.as_dtype(np.asarray(example).dtype)
    signature = [tf.TensorSpec([None, *spec.shape[1:]], dtype, name=spec.name)]
    with _quiet():
        model.export(str(path), format="onnx", input_signature=signature, opset_version=opset, verbose=False)
    if _name_batch(path) == 1:
        return KERAS_EXPORT
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # Keras' numpy-2 fixes of tf2onnx, as export uses

    patch_tf2onnx()
    with _quiet():
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset, output_path=str(path))
    if _name_batch(path) != 1:
        raise RuntimeError(f"{TF2ONNX_FROM_KERAS} left captured tensors as ONNX inputs too")
    return TF2ONNX_FROM_KERAS
