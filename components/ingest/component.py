"""ingest: write one task's stratified train/val/test split (crosstrain.data.ingest), or read a DVC version.

With `dvc_repo`, the prepared data of that git revision is read through dvc.api and its digests are
checked (crosstrain.data.versioned), so the run trains on exactly the data a `dvc repro` there has.
"""

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def ingest(
    params: str,
    task: str,
    prepared: Output[Dataset],
    dvc_repo: str = "",
    dvc_rev: str = "",
    data_digests: dict = {},  # noqa: B006 (kfp reads the default; it is never mutated)
):
    """Prepare `task`'s data: Parquet splits and meta.json in the directory `prepared`.

    Args:
        params: Validated params YAML (the `configure` step's output).
        task: A key of `tasks` in params.
        prepared: Output directory of the prepared splits.
        dvc_repo: A git URL (or path) of a crosstrain repository: read its `data/prepared/<task>`
            through dvc.api instead of loading the source. Empty: run the source loader.
        dvc_rev: The git revision of `dvc_repo` to read (commit, branch, tag); empty: its default branch.
        data_digests: Task -> the digest its data must have: a DVC md5 (`<32 hex>.dir`, as dvc.lock
            records it) or crosstrain's sha256 (meta.json `digest`). Checked only with `dvc_repo`.
    """
    from crosstrain.kfp_support import steps

    meta = steps.ingest(params, task, prepared.path, dvc_repo, dvc_rev, (data_digests or {}).get(task, ""))
    prepared.metadata.update({"task": task, "digest": meta["digest"], "rows": meta["rows"]})
    if "dvc" in meta:
        prepared.metadata.update({f"dvc_{key}": value for key, value in meta["dvc"].items()})
