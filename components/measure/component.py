"""measure: every execution mode of one task and framework timed the same way (crosstrain.perf.modes)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def measure(params: str, task: str, framework: str, prepared: Input[Dataset], modes: Output[Metrics]):
    """Train briefly and time inference in each mode of `measure.modes`; one MLflow run per mode.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: `tensorflow` or `pytorch`.
        prepared: The ingest step's output directory.
        modes: The modes JSON (the report reads it); each supported mode's figures also as KFP
            metrics named `<mode>.<metric>`, and the unsupported modes with their reasons in metadata.
    """
    from crosstrain.kfp_support import steps

    result = steps.measure(params, task, framework, prepared.path, modes.path)
    for entry in result["modes"]:
        for name, value in entry.items():
            if isinstance(value, float) and entry["supported"]:
                modes.log_metric(f"{entry['mode']}.{name}", value)
    modes.metadata["unsupported"] = {e["mode"]: e["reason"] for e in result["modes"] if not e["supported"]}
