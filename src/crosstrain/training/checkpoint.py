"""Per-epoch training checkpoints, so an interrupted or preempted training resumes where it stopped.

    checkpoints/<task>/<framework>/seed-<s>/
        manifest.json        what the state is: key, MLflow run id, epoch history, RNG, status
        state-<epochs>.npz   weights, optimiser state, framework RNG, the best epoch's weights
        final/               (status "done") a copy of the seed's finished model directory

Writes are atomic: the state file is written under a temporary name and renamed, then the manifest
(naming the state file and its sha256) replaces the old one, then older state files go. A process
killed at any point leaves the previous complete checkpoint or the new one, never half of one.

What a checkpoint restores exactly (see `crosstrain.training.tf` / `.torch` for the framework part):
- the model's weights (the neutral layout of `crosstrain.models`, batch-norm statistics included);
- the optimiser's state: Adam's moments and step count (or SGD's momentum), Keras' iteration count;
- the epoch, the per-epoch metrics so far and early stopping's state (best val accuracy, epochs waited,
  best epoch and its weights);
- RNG: Python's `random`, numpy's global generator, torch's CPU generator (dropout) or Keras' seed
  generators (dropout). The data order needs no state: the batch order is a pure function of
  (seed, epoch), drawn from a fresh numpy Generator each epoch, so the epoch is the whole position;
- the MLflow run id, so a resumed training logs into the same run.

A checkpoint belongs to one training: its `key` holds the params hash (`crosstrain.tracking.lineage`,
of the settings with `seeds` narrowed to this seed), the DVC digest of the prepared data and a digest of
the training and model code. A checkpoint with another key is never resumed.

A finished seed's checkpoint becomes "done" and keeps a copy of its output directory: DVC deletes a
stage's outputs before re-running it, so after a `make run` killed in the third seed the first two are
copied back instead of retrained. Once every seed is trained, `finish` strips the checkpoints to a
"complete" manifest (the DVC output stays a small record), and the next training starts afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import crosstrain
from crosstrain.config import Settings
from crosstrain.errors import ConfigError
from crosstrain.io import atomic_dir, atomic_write_json, read_json
from crosstrain.names import CHECKPOINT_ARTIFACTS, TAG_CHECKPOINT_KEY, seed_dir
from crosstrain.tracking import lineage

if TYPE_CHECKING:
    from crosstrain.tracking import Tracking

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FINAL_DIR = "final"
STATE_PREFIX = "state-"
FORMAT = 1
TRAINING, DONE, COMPLETE = "training", "done", "complete"
# The code a checkpoint's state depends on: the `train` stage's code deps in dvc.yaml.
CODE_DIRS = ("backends", "models", "training")


@dataclass
class Checkpoint:
    """One seed's checkpoint as read back: the manifest's fields and the arrays of its state file."""

    key: dict[str, str]
    status: str
    run_id: str | None = None
    history: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Complete epochs the checkpoint holds."""
        return len(self.history.get("epochs", []))

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays saved under "<prefix>/", with the prefix taken off."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.arrays.items() if k.startswith(f"{prefix}/")}


def code_digest() -> str:
    """sha256 of crosstrain's model and training code: a checkpoint is only resumed by the same code."""
    sha = hashlib.sha256()
    package = Path(crosstrain.__file__).parent
    for directory in CODE_DIRS:
        for path in sorted((package / directory).rglob("*.py")):
            sha.update(path.relative_to(package).as_posix().encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def key(settings: Settings, seed: int, data_digest: str) -> dict[str, str]:
    """What a checkpoint must match to be resumed: params (this seed's), data and code."""
    return {
        "params_hash": lineage.params_hash(settings.model_copy(update={"seeds": [seed]})),
        "data_digest": data_digest,
        "code_digest": code_digest(),
    }


def key_hash(checkpoint_key: dict[str, str]) -> str:
    """One string for a key: the training run's TAG_CHECKPOINT_KEY, by which a mirror is found again."""
    return hashlib.sha256(json.dumps(checkpoint_key, sort_keys=True).encode()).hexdigest()


def state_files(directory: Path) -> list[Path]:
    """The files of the current checkpoint (manifest and state file): what a mirror uploads."""
    manifest = Path(directory) / MANIFEST
    found = read_json(manifest)
    return [manifest] + ([Path(directory) / found["state_file"]] if found.get("state_file") else [])


def python_numpy_rng() -> dict[str, Any]:
    """Python's and numpy's global RNG states (numpy's key array goes into the state file)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": {"kind": kind, "keys": keys, "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached)}}


def restore_python_numpy_rng(rng: dict[str, Any], keys: np.ndarray) -> None:
    """Put back Python's and numpy's global generators as `python_numpy_rng` saved them."""
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    n = rng["numpy"]
    np.random.set_state((n["kind"], np.asarray(keys, dtype=np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))


def save(directory: Path, *, key: dict[str, str], run_id: str | None, history: dict[str, Any],
         weights: dict[str, np.ndarray], state: dict[str, np.ndarray],
         best: dict[str, np.ndarray] | None) -> Path:
    """Write a checkpoint atomically; returns the manifest's path.

    `history` is `History.state()`, `weights` the model's neutral weights, `state` the framework's
    optimiser and RNG arrays (`get_state`), `best` the best epoch's weights (early stopping) or None.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = python_numpy_rng()
    arrays = {f"weights/{k}": v for k, v in weights.items()}
    arrays.update({f"state/{k}": v for k, v in state.items()})
    arrays.update({f"best/{k}": v for k, v in (best or {}).items()})
    arrays["rng/numpy"] = rng["numpy"].pop("keys")
    epochs = len(history["epochs"])
    name = f"{STATE_PREFIX}{epochs:05d}.npz"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle only
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    manifest = {"format": FORMAT, "status": TRAINING, "key": key, "run_id": run_id, "epochs": epochs,
                "state_file": name, "state_sha256": _sha256(directory / name), "best": best is not None,
                "history": history, "rng": rng}
    atomic_write_json(directory / MANIFEST, manifest)
    _remove_states(directory, keep=name)
    return directory / MANIFEST


def load(directory: Path) -> Checkpoint | None:
    """The checkpoint in `directory`, or None when there is none (or it is unreadable: a warning)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = read_json(path)
        found = Checkpoint(key=manifest["key"], status=manifest["status"], run_id=manifest.get("run_id"),
                           history=manifest.get("history", {}), rng=manifest.get("rng", {}))
        if found.status == TRAINING:
            state = Path(directory) / manifest["state_file"]
            if _sha256(state) != manifest["state_sha256"]:
                raise ValueError(f"{state} does not match its manifest's sha256")
            with np.load(state) as data:
                found.arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        log.warning("ignoring the unreadable checkpoint in %s: %s", directory, err)
        return None
    return found


def mark_done(directory: Path, out_dir: Path, checkpoint_key: dict[str, str], run_id: str) -> None:
    """A seed finished: keep a copy of its output directory and drop the training state."""
    directory = Path(directory)
    with atomic_dir(directory / FINAL_DIR) as tmp:
        shutil.copytree(out_dir, tmp, dirs_exist_ok=True)
    atomic_write_json(directory / MANIFEST, {"format": FORMAT, "status": DONE, "key": checkpoint_key,
                                             "run_id": run_id})
    _remove_states(directory)


def restore_final(directory: Path, out_dir: Path) -> bool:
    """Copy a done seed's output back to `out_dir` (atomically); False when the copy is missing."""
    final = Path(directory) / FINAL_DIR
    if not final.is_dir():
        return False
    with atomic_dir(out_dir) as tmp:
        shutil.copytree(final, tmp, dirs_exist_ok=True)
    return True


def finish(directory: Path, seed_dirs: list[str]) -> None:
    """These seeds are all trained: reduce their checkpoints to "complete" manifests (a record only)."""
    for done in (Path(directory) / name for name in seed_dirs):
        if not done.is_dir():
            continue
        manifest = done / MANIFEST
        found = read_json(manifest) if manifest.is_file() else {}
        atomic_write_json(manifest, {"format": FORMAT, "status": COMPLETE, "key": found.get("key"),
                                     "run_id": found.get("run_id")})
        shutil.rmtree(done / FINAL_DIR, ignore_errors=True)
        _remove_states(done)


def discard(directory: Path) -> None:
    """Forget a checkpoint (training starts over)."""
    shutil.rmtree(directory, ignore_errors=True)


def _remove_states(directory: Path, keep: str | None = None) -> None:
    for path in Path(directory).glob(f"{STATE_PREFIX}*.npz"):
        if path.name != keep:
            path.unlink(missing_ok=True)
    for path in Path(directory).glob(f".{STATE_PREFIX}*.tmp"):  # a write killed half-way
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class SeedCheckpoints:
    """One seed's checkpoint policy: where it lives, its key, whether to resume, whether to mirror.

    `resume=None` resumes when a checkpoint's key matches and starts over otherwise; True makes a
    mismatch an error; False never resumes. Only the chief writes. `mirror` also uploads each
    checkpoint to the seed's MLflow run and, with none on local disk, downloads the newest unfinished
    run's with the same key: how a retried Kubeflow pod, whose disk is new, resumes.
    """

    def __init__(self, root: Path | None, seed: int, settings: Settings, data_version: str,
                 *, resume: bool | None, chief: bool, mirror: bool = False,
                 tracker: Tracking | None = None) -> None:
        self.directory = None if root is None else Path(root) / seed_dir(seed)
        self.key = key(settings, seed, data_version) if root is not None else {}
        self.resume, self.chief = resume, chief
        self.mirror = mirror and root is not None and chief and tracker is not None
        self.tracker = tracker

    @property
    def writes(self) -> bool:
        """Whether this process writes checkpoints (rank 0, with a directory)."""
        return self.directory is not None and self.chief

    @property
    def tags(self) -> dict[str, str]:
        """The run's tag naming this key (empty without checkpoints)."""
        return {TAG_CHECKPOINT_KEY: key_hash(self.key)} if self.key else {}

    def find(self) -> Checkpoint | None:
        """The checkpoint to continue from (training or done), or None to start afresh."""
        if self.directory is None or self.resume is False:
            return None
        if self.mirror and not (self.directory / MANIFEST).is_file():
            self._download()
        found = load(self.directory)
        if found is None or found.status == COMPLETE:
            return None
        if found.key != self.key:
            differs = ", ".join(k.removesuffix("_digest").removesuffix("_hash") for k in self.key
                                if found.key.get(k) != self.key[k])
            if self.resume:
                raise ConfigError(f"the checkpoint in {self.directory} was made with other {differs}: "
                                  "rerun with --no-resume to start over")
            log.warning("not resuming from %s: other %s", self.directory, differs)
            return None
        return found

    def save(self, run_id: str | None, history: dict[str, Any], weights: dict[str, np.ndarray],
             state: dict[str, np.ndarray], best: dict[str, np.ndarray] | None) -> None:
        """Write this epoch's checkpoint (the chief only) and mirror it when asked."""
        if not self.writes or self.directory is None:  # (the second for mypy: writes implies a directory)
            return
        save(self.directory, key=self.key, run_id=run_id, history=history, weights=weights, state=state,
             best=best)
        if self.mirror and self.tracker is not None:
            for path in state_files(self.directory):
                self.tracker.log_artifacts(path, CHECKPOINT_ARTIFACTS)

    def _download(self) -> None:
        """The newest unfinished run with this key's mirrored checkpoint, into `directory` (if any)."""
        assert self.tracker is not None and self.directory is not None
        found = self.tracker.search_runs(
            f"tags.`{TAG_CHECKPOINT_KEY}` = '{key_hash(self.key)}' and attributes.status != 'FINISHED'",
            order_by=["attributes.start_time DESC"], max_results=1)
        if not found:
            return
        run_id = found[0].info.run_id
        with tempfile.TemporaryDirectory() as scratch:
            try:
                self.tracker.client().download_artifacts(run_id, CHECKPOINT_ARTIFACTS, scratch)
            except Exception as err:  # noqa: BLE001 - no mirror yet (killed before epoch 0 was saved)
                log.warning("run %s has no checkpoint to resume from: %s", run_id, err)
                return
            fetched = Path(scratch) / CHECKPOINT_ARTIFACTS
            self.directory.mkdir(parents=True, exist_ok=True)
            for path in sorted(fetched.iterdir(), key=lambda p: p.name == MANIFEST):
                shutil.copy2(path, self.directory / path.name)  # the manifest last: it names the state
        log.info("resuming from the checkpoint mirrored in MLflow run %s", run_id)
