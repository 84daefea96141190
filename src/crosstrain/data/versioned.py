"""Read a task's prepared data at a git revision of a DVC repository, and prove it is that data.

    read_prepared("https://github.com/org/crosstrain.git", "v1.2", "iris", Path("out"))

`dvc.api.DVCFileSystem` opens the repository at the revision (a clone for a URL), and the files of
`data/prepared/<task>` (the `ingest@<task>` stage's output) come from its DVC remote. Three checks
follow, so a cluster run and a local `dvc repro` at that revision train on byte-identical data:

- crosstrain's digest in meta.json equals the digest recomputed from the files (values, not bytes);
- the DVC md5 of the copied directory equals the one the revision's dvc.lock records (bytes);
- an expected digest, when given, equals its kind: a DVC md5 (`<32 hex>.dir`) or crosstrain's sha256.

Framework-neutral: numpy, pandas and DVC only.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import yaml

from crosstrain.data.dataset import load_meta
from crosstrain.errors import CrosstrainError, MissingInputError, SourceError
from crosstrain.io import atomic_dir
from crosstrain.layout import Layout
from crosstrain.names import SPLITS
from crosstrain.tracking.lineage import LOCK_FILE, dvc_md5


class DigestMismatchError(CrosstrainError):
    """Versioned data is not the data its digest says it is."""


def relative_prepared(task: str) -> str:
    """`data/prepared/<task>`, as dvc.yaml and dvc.lock spell it (repository-relative, POSIX)."""
    return Layout(Path()).prepared(task).as_posix()


def recompute_digest(prepared: Path) -> str:
    """crosstrain's digest of a prepared directory, recomputed from its files by ingest's own functions."""
    import numpy as np

    modality = load_meta(prepared).get("modality", "table")
    if modality in ("image", "text"):
        from crosstrain.data import images, text

        arrays = {}
        for name in SPLITS:
            with np.load(Path(prepared) / f"{name}.npz") as npz:
                arrays[name] = (npz["x"], npz["y"])
        return images.digest(arrays) if modality == "image" else text.digest(arrays)
    import pandas as pd

    from crosstrain.data.ingest import digest

    return digest({name: pd.read_parquet(Path(prepared) / f"{name}.parquet") for name in SPLITS})


def locked_md5(lock_text: str, task: str) -> str | None:
    """The md5 dvc.lock records for the `ingest@<task>` stage's prepared output, or None."""
    stages = (yaml.safe_load(lock_text) or {}).get("stages", {})
    target = relative_prepared(task)
    for out in stages.get(f"ingest@{task}", {}).get("outs", []):
        if out.get("path") == target:
            return out.get("md5")
    return None


def is_dvc_md5(value: str) -> bool:
    """Whether `value` is a DVC md5 (`<32 hex>` or `<32 hex>.dir`) rather than crosstrain's sha256."""
    return len(value.removesuffix(".dir")) == 32


def check(prepared: Path, where: str, expected: str = "", locked: str | None = None) -> dict:
    """Check a prepared directory's digests; returns `{"digest", "dvc_md5"}` or raises DigestMismatchError.

    `where` names the data in messages; `locked` is the md5 dvc.lock records for it, if any.
    """
    recorded = load_meta(prepared).get("digest")
    actual = recompute_digest(prepared)
    if recorded != actual:
        raise DigestMismatchError(
            f"{where}: meta.json digest {recorded} != digest {actual} recomputed from the files"
        )
    md5 = dvc_md5(prepared)
    if locked and locked != md5:
        raise DigestMismatchError(f"{where}: dvc.lock md5 {locked} != md5 {md5} of the data read")
    if expected:
        kind, got = ("DVC md5", md5) if is_dvc_md5(expected) else ("digest", actual)
        if expected.removesuffix(".dir") != got.removesuffix(".dir"):
            raise DigestMismatchError(f"{where}: expected {kind} {expected} != {kind} {got} of the data read")
    return {"digest": actual, "dvc_md5": md5}


def read_prepared(repo: str, rev: str | None, task: str, out_dir: Path, expected: str = "") -> dict:
    """Copy `data/prepared/<task>` at `rev` of the DVC repository `repo` into `out_dir`, checked.

    Args:
        repo: A git URL or path of a crosstrain repository whose DVC remote holds the data.
        rev: A git revision (commit, branch, tag); empty or None: the default branch (a URL) or
            the working tree (a local path).
        task: The task whose `ingest@<task>` output to read.
        out_dir: Replaced by the data, only when every check passes.
        expected: An optional digest to pin: a DVC md5 (`<32 hex>.dir`) or crosstrain's sha256.

    Returns:
        meta.json's content plus `dvc`: `{"repo", "rev" (the resolved commit), "md5", "locked_md5"}`.

    Raises:
        MissingInputError: The revision has no prepared data for `task`.
        SourceError: The repository or revision cannot be opened.
        DigestMismatchError: A digest disagrees; the message names both.
    """
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    from dvc_data.index.index import DataIndexError
    from scmrepo.exceptions import SCMError

    where = f"{relative_prepared(task)} at {repo}@{rev or 'HEAD'}"
    try:
        fs = DVCFileSystem(repo, rev=rev or None)
        commit = fs.repo.get_rev()
    except (DvcException, SCMError) as err:
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        raise SourceError(f"{repo}@{rev or 'HEAD'}: cannot open as a DVC repository: {err}{cause}") from None
    try:
        root = relative_prepared(task)
        if not fs.isdir(root):
            raise MissingInputError(f"{where}: not found (is `ingest@{task}` committed with dvc.lock?)")
        locked = locked_md5(fs.read_text(LOCK_FILE), task) if fs.isfile(LOCK_FILE) else None
        with atomic_dir(Path(out_dir)) as tmp:
            for path in fs.find(root):
                target = tmp / posixpath.relpath(path.lstrip("/"), root)
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(path, str(target))
            digests = check(tmp, where, expected, locked)
    except (DvcException, DataIndexError) as err:
        # e.g. a revision whose data was never `dvc push`ed to the remote its .dvc/config names
        raise SourceError(f"{where}: cannot read it from the DVC remote: {err}") from None
    finally:
        fs.close()
    meta = load_meta(Path(out_dir))
    return {**meta, "dvc": {"repo": repo, "rev": commit, "md5": digests["dvc_md5"], "locked_md5": locked}}
