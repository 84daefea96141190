"""The export step: one trained model to ONNX, checked against the native model, timed in ONNX Runtime.

    crosstrain export --task iris --framework pytorch

Exports the first seed's model (models/<task>/<fw>/seed-<seeds[0]>/) with its framework's own exporter
(`crosstrain.export.tf` / `crosstrain.export.torch`), compares ONNX Runtime's logits with the native
model's on the whole test split (largest |difference| must stay within `onnx.atol`), and times both with
`evaluation.latency.measure`, ONNX Runtime pinned to the training thread count. Writes
`metrics/<task>/onnx/<fw>.json`, adds the `onnx_*` metrics to that seed's training run in MLflow and
logs the `.onnx` file there as an artifact: the deployment-side comparison.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from crosstrain import backends, names, tracking
from crosstrain.config import Framework, Settings, parse_mode
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.errors import CrosstrainError, MissingInputError
from crosstrain.evaluation.latency import measure
from crosstrain.io import atomic_write_json, read_json
from crosstrain.tracking import Tracking
from crosstrain.training.loop import predict_in_chunks

MIB = 1024 * 1024  # sizes in MiB, as resources.dir_size_mb reports the native model's
EXAMPLE_ROWS = 8  # a few real rows to trace with: more than 1, so the batch dimension stays symbolic


class OnnxParityError(CrosstrainError):
    """The exported ONNX model does not compute what the native model computes."""


def onnx_predict(path: Path, threads: int):
    """An ONNX Runtime `predict(x) -> logits` on the CPU, with the same thread count as training.

    intra- and inter-op threads are both pinned (TensorFlow's two pools, torch.set_num_threads) and the
    graph runs sequentially, so no extra pool makes ONNX Runtime look faster than the native runs.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()
    dtype = np.int64 if feed.type == "tensor(int64)" else np.float32

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run(None, {feed.name: np.ascontiguousarray(x, dtype=dtype)})[0]

    return predict


def _not_exported(base: dict, reason: str, out_file: Path) -> dict:
    """Record why there is no ONNX model (the step still succeeds: a missing export is a finding)."""
    result = {**base, "exported": False, "reason": reason}
    atomic_write_json(out_file, result)
    return result


def export(task: str, settings: Settings, framework: Framework, model_dir: Path, prepared: Path,
           out_file: Path, *, onnx_file: Path | None = None, tracker: Tracking | None = None) -> dict:
    """Export one seed's trained model (`model_dir` holds it and its train.json) and check it.

    Returns what it writes to `out_file`. With `onnx_file`, the `.onnx` is also kept there (it always
    goes to the training run as an artifact). An exporter that cannot convert the model gives
    `exported: false` with its error as the reason; logits further than `onnx.atol` from the native
    model's raise `OnnxParityError` and write nothing.
    """
    framework = Framework(framework)
    if not settings.onnx.enabled:
        return _not_exported({"task": task, "framework": str(framework)}, "onnx.enabled is false", out_file)
    info_path = Path(model_dir) / names.TRAIN_INFO_FILE
    if not info_path.exists():
        raise MissingInputError(
            f"{info_path} not found: run `crosstrain train --task {task} --framework {framework}`"
        )
    info = read_json(info_path)
    meta = load_meta(prepared)
    if info["data_digest"] != meta["digest"]:
        raise MissingInputError(
            f"{model_dir} was trained on data {info['data_digest'][:12]} but {prepared} holds "
            f"{meta['digest'][:12]}: retrain it (`dvc repro` does this)"
        )
    base = {"task": task, "framework": str(framework), "seed": info.get("seed"), "run_id": info["run_id"],
            "opset": settings.onnx.opset}
    precision = parse_mode(info.get("mode", "eager-fp32"))[1]
    if precision != "fp32":
        # bf16 compute rounds logits far beyond onnx.atol, and Keras' ONNX export requires a float32 policy.
        reason = f"trained in {precision} precision: ONNX export and parity need fp32"
        return _not_exported(base, reason, out_file)
    test = load_split(prepared, "test")
    threads, opset, atol = settings.train_for(task).threads, settings.onnx.opset, settings.onnx.atol
    backend = backends.get(framework)
    backend.configure(threads, settings.seed)
    model = backend.load(model_dir)
    native = backend.make_predict(model)

    with tempfile.TemporaryDirectory(prefix="crosstrain-onnx-") as tmp:
        path = Path(tmp) / f"{task}-{framework}.onnx"
        start = time.perf_counter()
        try:
            converter = backend.export_onnx(model, path, test.x[:EXAMPLE_ROWS], opset)
        except Exception as err:  # any converter failure is a result to record, not a crash
            first_line = next(iter(str(err).strip().splitlines()), "")
            reason = f"{backend.converter} failed: {type(err).__name__}: {first_line}"
            return _not_exported(base, reason, out_file)
        export_time = time.perf_counter() - start
        predict = onnx_predict(path, threads)
        diff = float(np.max(np.abs(predict_in_chunks(predict, test) - predict_in_chunks(native, test))))
        if not diff <= atol:  # also catches NaN
            raise OnnxParityError(
                f"ONNX export of {task}/{framework} (seed {base['seed']}, {converter}) differs from the "
                f"native model by up to {diff:.3g} in the test logits, more than onnx.atol={atol:g}"
            )
        metrics = {
            names.ONNX_MAX_ABS_DIFF: diff,
            names.ONNX_SIZE: path.stat().st_size / MIB,
            **measure(predict, test.x, settings.latency, prefix=names.ONNX_PREFIX),
        }
        native_latency = measure(native, test.x, settings.latency)
        result = {**base, "exported": True, "reason": None, "exporter": converter,
                  "export_time_s": export_time, "test_rows": len(test), **metrics,
                  "native": native_latency}
        tracker = tracker or tracking.tracker(settings.mlflow)
        with tracker.resume_run(info["run_id"]):
            tracker.log_metrics(metrics)
            tracker.log_artifacts(path, artifact_path=names.ONNX_ARTIFACTS)
        if onnx_file is not None:
            Path(onnx_file).parent.mkdir(parents=True, exist_ok=True)
            staged = Path(onnx_file).with_name(f".{Path(onnx_file).name}.tmp")
            shutil.copyfile(path, staged)
            staged.replace(onnx_file)
    atomic_write_json(out_file, result)
    return result
