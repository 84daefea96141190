"""validate: the Great Expectations suite on the prepared splits; a failure stops the task's branch."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def validate(
    prepared: Input[Dataset], report: Output[Artifact], data_docs: Output[HTML], summary: Output[Metrics]
):
    """Validate `prepared`; raise (failing the task) on any broken expectation.

    Args:
        prepared: The ingest step's output directory.
        report: validation.json and the Data Docs site.
        data_docs: The Data Docs index page, shown by the KFP UI.
        summary: Expectations evaluated and failed.
    """
    from crosstrain.kfp_support import steps

    result = steps.validate(prepared.path, report.path, data_docs.path)
    summary.log_metric("expectations_evaluated", result["evaluated"])
    summary.log_metric("expectations_failed", result["failed"])
