"""register: every framework's model into the MLflow registry, champion gate (crosstrain.tracking)."""

from kfp import dsl
from kfp.dsl import Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(
    params: str,
    task: str,
    registry: Output[Metrics],
    tensorflow_metrics: Input[Metrics] = None,
    pytorch_metrics: Input[Metrics] = None,
):
    """Register the models of `task` that were evaluated; an absent framework's input stays None.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        registry: registry.json (versions, gate, champion); model, candidate, decision and champion
            in its metadata.
        tensorflow_metrics: TensorFlow's evaluate metrics (every seed's run), when `frameworks` lists it.
        pytorch_metrics: PyTorch's evaluate metrics.
    """
    from crosstrain.kfp_support import steps

    scores = [a.path for a in (tensorflow_metrics, pytorch_metrics) if a is not None]
    summary = steps.register(params, task, scores, registry.path)
    champion = summary["champion"]
    registry.metadata.update(
        {
            "model": summary["model"],
            "candidate": summary["candidate"] or "none",
            "decision": summary["gate"]["decision"],
            "reason": summary["gate"]["reason"],
            "champion": champion["framework"] if champion else "none",
        }
    )
