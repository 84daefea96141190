"""Runs other than the active one: nesting children under a comparison, and finding them again.

Every function takes a client (`tracker.client()`: MLflow's client with the outage retries), so the
report and `crosstrain compare` share one way of talking to MLflow's client API.
"""

from __future__ import annotations

from typing import Any

from crosstrain import names
from crosstrain.errors import TrackingError
from crosstrain.tracking.client import RetryingClient
from crosstrain.tracking.retry import TrackingRefused


def set_parent(run_ids: list[str], parent_id: str, client: RetryingClient) -> None:
    """Nest existing runs under `parent_id` with MLflow's own `mlflow.parentRunId` tag."""
    for run_id in run_ids:
        try:
            client.set_tag(run_id, names.TAG_PARENT, parent_id)
        except TrackingRefused as err:
            raise TrackingError(
                f"MLflow run {run_id} cannot be nested under the comparison {parent_id}: {err.reason} "
                "(was it tracked in another store? re-run the steps against this one)"
            ) from None


def find_parent(client: RetryingClient, experiment: str, run_id: str | None = None) -> Any:
    """The comparison run `run_id`, or the latest one in `experiment`; TrackingError when there is none."""
    uri = client.uri
    if run_id:
        try:
            run = client.get_run(run_id)
        except TrackingRefused:
            raise TrackingError(f"unknown run id {run_id!r} at {uri!r}") from None
        if run.data.tags.get(names.TAG_KIND) != names.KIND_COMPARISON:
            raise TrackingError(
                f"run {run_id!r} at {uri!r} is not a comparison run (no tag {names.TAG_KIND}="
                f"{names.KIND_COMPARISON}): pass the id of the run `crosstrain report` created"
            )
        return run
    found = client.get_experiment_by_name(experiment)
    runs = []
    if found is not None:
        runs = client.search_runs(
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


def children(client: RetryingClient, parent: Any) -> list:
    """Every run nested under `parent` (in its experiment)."""
    return list(client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{names.TAG_PARENT}` = '{parent.info.run_id}'",
        max_results=5000,
    ))
