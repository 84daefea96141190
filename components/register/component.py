"""register: every framework's model into the MLflow registry, champion crowned (crosstrain.tracking)."""

from kfp.dsl import Input, Metrics, Model, Output

from components.images import BASE_IMAGE
from kfp import dsl


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(
    params: str,
    task: str,
    registry: Output[Metrics],
    tensorflow_model: Input[Model] = None,
    tensorflow_metrics: Input[Metrics] = None,
    pytorch_model: Input[Model] = None,
    pytorch_metrics: Input[Metrics] = None,
):
    """Register the models of `task` that were trained; an absent framework's inputs stay None.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        registry: registry.json (versions, champion); the model name and champion in its metadata.
        tensorflow_model: TensorFlow's train output, when `frameworks` lists it.
        tensorflow_metrics: TensorFlow's evaluate metrics.
        pytorch_model: PyTorch's train output, when `frameworks` lists it.
        pytorch_metrics: PyTorch's evaluate metrics.
    """
    from crosstrain.kfp_support import steps

    models = [a.path for a in (tensorflow_model, pytorch_model) if a is not None]
    scores = [a.path for a in (tensorflow_metrics, pytorch_metrics) if a is not None]
    summary = steps.register(params, task, models, scores, registry.path)
    registry.metadata.update({"model": summary["model"], "champion": summary["champion"] or "none"})
