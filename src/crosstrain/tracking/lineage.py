"""What a run was made from: code (git commit, dirty tree), params (hash, file), data (DVC hash), libraries.

`crosstrain.tracking.Tracker.start_run` puts these on every MLflow run, so `crosstrain reproduce RUN_ID`
can rebuild the run: check out the commit, restore `params/effective_params.yaml`, `dvc pull` the data
whose hash is the run's dataset digest, and retrain.

    from crosstrain.tracking import lineage
    lineage.data_digest(Path("data/prepared/iris"))   # "b005...326e.dir", as in dvc.lock
    lineage.params_hash(settings)                     # sha256 of the effective params

Nothing here imports TensorFlow or PyTorch: versions are read from the installed packages' metadata.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import yaml

from crosstrain import names
from crosstrain.config import Settings

log = logging.getLogger(__name__)

# Pipeline outputs: their versions are pinned by dvc.lock and the data digest, so changing them (which
# `make run` itself does) does not make the code or params a run used "dirty".
OUTPUT_PATHS = ("dvc.lock", "data", "models", "metrics", "plots", "reports")
LOCK_FILE = "dvc.lock"

# The libraries whose versions a run records; each under the first distribution name installed.
DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos"),
    "torch": ("torch",),
    "keras": ("keras",),
    "crosstrain": ("crosstrain",),
}


# --- code ---------------------------------------------------------------------------------------
def _git(args: list[str], cwd: Path | None) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit, or None outside a git work tree."""
    out = _git(["rev-parse", "HEAD"], cwd)
    return (out.strip() or None) if out is not None else None


def git_dirty(cwd: Path | None = None) -> bool | None:
    """Whether the work tree differs from its commit (untracked files included), or None outside git.

    Pipeline outputs (`OUTPUT_PATHS`) are left out: they change in every `make run`.
    """
    excludes = [f":(top,exclude){path}" for path in OUTPUT_PATHS]
    out = _git(["status", "--porcelain", "--", ":(top)", *excludes], cwd)
    return None if out is None else bool(out.strip())


# --- params -------------------------------------------------------------------------------------
def effective_params(settings: Settings) -> dict:
    """The validated settings as params.yaml spells them (aliases), JSON-compatible."""
    return settings.model_dump(mode="json", by_alias=True)


def params_hash(settings: Settings) -> str:
    """sha256 of the effective params as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(effective_params(settings), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def effective_params_yaml(settings: Settings) -> str:
    """The effective params as a params.yaml that `load_settings` reads back to the same settings."""
    return yaml.safe_dump(effective_params(settings), sort_keys=False, allow_unicode=True)


# --- libraries ----------------------------------------------------------------------------------
@functools.cache
def versions() -> dict[str, str]:
    """Python and library versions: python, tensorflow, torch, keras, crosstrain (those installed)."""
    found = {"python": platform.python_version()}
    for name, distributions in DISTRIBUTIONS.items():
        for distribution in distributions:
            try:
                found[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


# --- data ---------------------------------------------------------------------------------------
def dvc_md5(path: Path) -> str:
    """DVC's md5 of a file or directory ("<md5>.dir" for a directory), computed as `dvc add` would.

    dvc-data builds the same tree object DVC stores, without writing to any cache.
    """
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory(prefix="crosstrain-dvc-md5-") as scratch:
        _, _, obj = build(HashFileDB(fs, scratch), str(Path(path).absolute()), fs, "md5", dry_run=True)
    return str(obj.hash_info.value)


def _lock_md5(path: Path) -> str | None:
    """The md5 dvc.lock records for `path` (a stage output), or None when no dvc.lock above names it."""
    path = Path(path).absolute()
    for root in path.parents:
        lock = root / LOCK_FILE
        if lock.is_file():
            break
    else:
        return None
    try:
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError):
        return None
    relative = path.relative_to(root).as_posix()
    for stage in stages.values():
        for out in stage.get("outs", []) or []:
            if out.get("path") == relative and out.get("md5"):
                return out["md5"]
    return None


def data_digest(prepared: Path) -> str:
    """The DVC hash of the prepared data a run trains on (a run's dataset digest and TAG_DATA_DIGEST).

    Hashing is cheap (crosstrain's prepared data is a few files), so the hash is always computed from
    the files themselves; dvc.lock's entry for the directory, when it has one, is checked against it:
    a different lock entry means the data changed since `dvc repro` locked it, and the run records
    what it actually read.
    """
    digest = dvc_md5(prepared)
    locked = _lock_md5(prepared)
    if locked is not None and locked != digest:
        log.warning("%s holds data %s but dvc.lock records %s (run `dvc repro` or `dvc pull`); "
                    "the run records %s", prepared, digest, locked, digest)
    return digest


# --- tags ---------------------------------------------------------------------------------------
def tags(settings: Settings | None = None, cwd: Path | None = None) -> dict[str, str]:
    """A run's lineage tags: git commit and dirty flag, library versions, (given settings) the params hash."""
    found: dict[str, str] = {}
    commit = git_commit(cwd)
    if commit:
        found[names.TAG_GIT_COMMIT] = commit
        dirty = git_dirty(cwd)
        if dirty is not None:
            found[names.TAG_GIT_DIRTY] = str(dirty).lower()
    for name, version in versions().items():
        found[f"{names.TAG_VERSION_PREFIX}{name}"] = version
    if settings is not None:
        found[names.TAG_PARAMS_HASH] = params_hash(settings)
    return found
