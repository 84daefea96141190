"""export: the first seed's model to ONNX, parity-checked and timed in ONNX Runtime (crosstrain.export)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def export(
    params: str,
    task: str,
    framework: str,
    prepared: Input[Dataset],
    model: Input[Model],
    onnx: Output[Metrics],
    onnx_model: Output[Model],
):
    """Export seed `seeds[0]`'s model to ONNX; fail if its logits drift beyond `onnx.atol`.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: The framework `model` was trained in.
        prepared: The ingest step's output directory.
        model: The train step's output directory (seed-<s>/ per seed).
        onnx: The ONNX JSON (the report reads it); the onnx_* figures also as KFP metrics.
        onnx_model: A directory with `model.onnx` when exported (empty when not; see `onnx` metadata).
    """
    from pathlib import Path

    from crosstrain.kfp_support import steps

    Path(onnx_model.path).mkdir(parents=True, exist_ok=True)
    result = steps.export(
        params,
        task,
        framework,
        model.path,
        prepared.path,
        onnx.path,
        onnx_file=str(Path(onnx_model.path) / "model.onnx"),
    )
    for name, value in result.items():
        if name.startswith("onnx_") and isinstance(value, float):
            onnx.log_metric(name, value)
    onnx.metadata.update({"exported": result["exported"], "reason": result["reason"] or ""})
    onnx_model.metadata.update(
        {"framework": framework, "exported": result["exported"], "seed": result.get("seed")}
    )
