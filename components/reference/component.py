"""reference: the task's classical scikit-learn reference, fitted and scored on the same split."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def reference(params: str, task: str, prepared: Input[Dataset], metrics: Output[Metrics]):
    """Fit the task's linear reference (C picked on val) and score the test split like evaluate does.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        prepared: The ingest step's output directory.
        metrics: reference.json (the report's reference row and verdict); its test accuracy, macro-F1,
            training time and batch-1 p50 latency also as KFP metrics, the model in metadata.
    """
    from crosstrain import names
    from crosstrain.kfp_support import steps

    result = steps.reference(params, task, prepared.path, metrics.path)
    for name in (names.TEST_ACCURACY, names.TEST_MACRO_F1, names.TRAIN_TIME, names.LATENCY_P50):
        metrics.log_metric(name, result[name])
    metrics.metadata["model"] = result["description"]
