"""evaluate: test metrics, confusion matrix and curves of one trained model (crosstrain.evaluation)."""

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate(
    params: str,
    task: str,
    framework: str,
    prepared: Input[Dataset],
    model: Input[Model],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
    plots: Output[Artifact],
):
    """Score every seed's model on the test split (on CPU, so latencies compare); metrics onto its run.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: The framework `model` was trained in.
        prepared: The ingest step's output directory.
        model: The train step's output directory (seed-<s>/ per seed).
        metrics: The metrics JSON (`runs` per seed, `mean`; register and report read it); the means
            over seeds also as KFP metrics.
        confusion: The test confusion matrix, summed over seeds.
        plots: history.csv, predictions.csv, confusion.json and confusion.png.
    """
    from crosstrain.kfp_support import steps

    result = steps.evaluate(params, task, framework, prepared.path, model.path,
                            metrics_file=metrics.path, plots_dir=plots.path)
    for name, value in result["mean"].items():
        metrics.log_metric(name, value)
    metrics.metadata["seeds"] = result["seeds"]
    confusion.log_confusion_matrix(result["confusion"]["classes"], result["confusion"]["matrix"])
