"""configure: apply the pipeline's typed parameters to the params text and validate it once."""

from kfp import dsl

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def configure(params: str, seed: int, epochs: int, mlflow_tracking_uri: str, mlflow_experiment: str) -> str:
    """Return the validated params YAML every later step reads.

    Args:
        params: The whole params.yaml as YAML text (validated again here).
        seed: Replaces `seed`.
        epochs: Replaces `train.epochs` (per-task `train.epochs` still win).
        mlflow_tracking_uri: Replaces `mlflow.tracking_uri`; empty keeps it.
        mlflow_experiment: Replaces `mlflow.experiment`; empty keeps it.
    """
    from crosstrain.kfp_support import steps

    return steps.configure(params, seed, epochs, mlflow_tracking_uri, mlflow_experiment)
