"""ingest: load one task's source and write its stratified train/val/test split (crosstrain.data.ingest)."""

from kfp.dsl import Dataset, Output

from components.images import BASE_IMAGE
from kfp import dsl


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def ingest(params: str, task: str, prepared: Output[Dataset]):
    """Prepare `task`'s data: Parquet splits and meta.json in the directory `prepared`.

    Args:
        params: Validated params YAML (the `configure` step's output).
        task: A key of `tasks` in params.
        prepared: Output directory of the prepared splits.
    """
    from crosstrain.kfp_support import steps

    meta = steps.ingest(params, task, prepared.path)
    prepared.metadata.update({"task": task, "digest": meta["digest"], "rows": meta["rows"]})
