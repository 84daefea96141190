"""speed: every framework timed alternately (ABBA), a fresh process each (crosstrain.perf.speed)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def speed(params: str, task: str, prepared: Input[Dataset], timings: Output[Metrics]):
    """Time a short training and batch-1 latency of each framework `speed.rounds` times, in fresh processes.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        prepared: The ingest step's output directory.
        timings: speed.json (the report reads it); each framework's medians over the rounds also as KFP
            metrics named `<framework>.<metric>`, and the measuring order in metadata.
    """
    from crosstrain.kfp_support import steps
    from crosstrain.perf.speed import medians

    result = steps.speed(params, task, prepared.path, timings.path)
    for framework, figures in medians(result).items():
        for name, value in figures.items():
            timings.log_metric(f"{framework}.{name}", value)
    timings.metadata["order"] = result["order"]
