"""PyTorch → ONNX with the dynamo exporter (`torch.onnx.export(..., dynamo=True)`, which needs onnxscript).

Mirrors `crosstrain.export.tf`: `export_onnx` writes one self-contained `.onnx` file whose first input
dimension (the batch) is dynamic, and says which converter wrote it. (A module named `torch.py` is
safe under absolute imports.)
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crosstrain.models.torch import input_dtype

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
EXPORTER = "torch.onnx.export(dynamo=True)"


def export_onnx(model: nn.Module, path: Path, example: np.ndarray, opset: int) -> str:
    """Write `model` (in eval mode) to `path` as ONNX at `opset`, batch dimension dynamic.

    `example` is a batch of real inputs (float32 features/pixels or int64 token ids); its batch size
    must be at least 2, or torch.export would specialise the dimension to a constant. Returns the
    converter used.
    """
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(example, dtype=input_dtype(model)))
    batch = torch.export.Dim("batch")
    # The exporter reports its progress through print() and logging; crosstrain prints its own summary.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                (x,),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
            if program is None:  # only the legacy exporter (dynamo=False) returns nothing
                raise RuntimeError(f"{EXPORTER} returned no ONNX program")
            program.save(str(path), external_data=False)
    finally:
        quiet.setLevel(level)
    return EXPORTER
