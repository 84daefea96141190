"""Runs other than the active one: nesting children under a comparison, and finding them again.

Kept beside `service` (which owns the active run) so the report and `crosstrain compare` share one
way of talking to MLflow's client API.
"""

from __future__ import annotations

from crosstrain import names
from crosstrain.errors import TrackingError


def client(uri: str | None = None):
    """An MlflowClient on `uri`, or on the store `service.connect` selected.

    An explicit URI leaves MLflow's global state (and MLFLOW_TRACKING_URI) alone, so a command
    that only reads (`crosstrain compare`) changes nothing for whatever runs next in the process.
    """
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri) if uri else MlflowClient()


def set_parent(run_ids: list[str], parent_id: str, mlflow_client=None) -> None:
    """Nest existing runs under `parent_id` with MLflow's own `mlflow.parentRunId` tag.

    Pass `service.client(cfg)` as `mlflow_client` to get the outage retries on every tag written.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = mlflow_client or client()
    for run_id in run_ids:
        try:
            mlflow_client.set_tag(run_id, names.TAG_PARENT, parent_id)
        except MlflowException as err:
            raise TrackingError(
                f"MLflow run {run_id} cannot be nested under the comparison {parent_id}: {err.message} "
                "(was it tracked in another store? re-run the steps against this one)"
            ) from None


def find_parent(experiment: str, uri: str, run_id: str | None = None):
    """The comparison run `run_id`, or the latest one in `experiment`; TrackingError when there is none."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client(uri)
    if run_id:
        try:
            run = mlflow_client.get_run(run_id)
        except MlflowException:
            raise TrackingError(f"unknown run id {run_id!r} at {uri!r}") from None
        if run.data.tags.get(names.TAG_KIND) != names.KIND_COMPARISON:
            raise TrackingError(
                f"run {run_id!r} at {uri!r} is not a comparison run (no tag {names.TAG_KIND}="
                f"{names.KIND_COMPARISON}): pass the id of the run `crosstrain report` created"
            )
        return run
    found = mlflow_client.get_experiment_by_name(experiment)
    runs = []
    if found is not None:
        runs = mlflow_client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.`{names.TAG_KIND}` = '{names.KIND_COMPARISON}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    if not runs:
        raise TrackingError(
            f"no comparison run in experiment {experiment!r} at {uri!r}: "
            "run `make run` or `crosstrain report` first"
        )
    return runs[0]


def children(parent, uri: str) -> list:
    """Every run nested under `parent` (in its experiment)."""
    return client(uri).search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{names.TAG_PARENT}` = '{parent.info.run_id}'",
        max_results=5000,
    )
