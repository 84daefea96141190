"""report: one task's outputs gathered in the crosstrain layout; the comparison report over every task.

`gather` runs per task, inside the pipeline's loop; `report` once, after it, on `dsl.Collected` of
every task's gathered tree (crosstrain.report.build.build_report reads a project root).
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def gather(
    task: str,
    results: Output[Artifact],
    registry: Input[Metrics] = None,
    tensorflow_metrics: Input[Metrics] = None,
    tensorflow_plots: Input[Artifact] = None,
    tensorflow_modes: Input[Metrics] = None,
    tensorflow_onnx: Input[Metrics] = None,
    pytorch_metrics: Input[Metrics] = None,
    pytorch_plots: Input[Artifact] = None,
    pytorch_modes: Input[Metrics] = None,
    pytorch_onnx: Input[Metrics] = None,
    speed: Input[Metrics] = None,
    reference: Input[Metrics] = None,
):
    """Copy `task`'s evaluate, measure, speed, reference, export and register outputs into `results`.

    Args:
        task: A key of `tasks` in params.
        results: A directory laid out as a crosstrain project (metrics/<task>/..., plots/<task>/...).
        registry: register's registry.json.
        tensorflow_metrics: TensorFlow's evaluate metrics; absent frameworks' inputs stay None.
        tensorflow_plots: TensorFlow's evaluate plots directory.
        tensorflow_modes: TensorFlow's measure output.
        tensorflow_onnx: TensorFlow's export output.
        pytorch_metrics: PyTorch's evaluate metrics.
        pytorch_plots: PyTorch's evaluate plots directory.
        pytorch_modes: PyTorch's measure output.
        pytorch_onnx: PyTorch's export output.
        speed: The speed step's output (both frameworks).
        reference: The reference step's output (the classical scikit-learn reference).
    """
    from crosstrain.kfp_support import steps

    outputs = {
        "tensorflow": (tensorflow_metrics, tensorflow_plots, tensorflow_modes, tensorflow_onnx),
        "pytorch": (pytorch_metrics, pytorch_plots, pytorch_modes, pytorch_onnx),
    }
    metrics, plots, modes, onnx = (
        {fw: a[i].path for fw, a in outputs.items() if a[i] is not None} for i in range(4)
    )
    written = steps.gather(
        task, results.path, metric_files=metrics, plots_dirs=plots, modes_files=modes, onnx_files=onnx,
        registry_file=registry.path if registry is not None else None,
        speed_file=speed.path if speed is not None else None,
        reference_file=reference.path if reference is not None else None,
    )
    results.metadata.update({"task": task, "files": written})


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def report(
    params: str,
    tasks: Input[list[Artifact]],
    html: Output[HTML],
    markdown: Output[Markdown],
    comparison: Output[Artifact],
    curves: Output[Artifact],
):
    """The comparison report over every task of the run, and the MLflow parent run nesting their runs.

    Args:
        params: Validated params YAML.
        tasks: `gather`'s output of every task (dsl.Collected over the pipeline's loop).
        html: comparison.html (self-contained; the KFP UI shows it).
        markdown: comparison.md.
        comparison: comparison.json (the numbers behind both); the parent run id in metadata.
        curves: curves/<task>/<framework>.csv, validation accuracy means over seeds with intervals.
    """
    from crosstrain.kfp_support import steps

    result = steps.report(
        params, [t.path for t in tasks], html.path, markdown.path, comparison.path, curves.path
    )
    comparison.metadata.update(
        {"parent_run_id": result["parent_run_id"] or "", "tasks": sorted(result["results"])}
    )
