"""Rebuild one MLflow training run from its lineage and check the numbers come out the same.

    crosstrain reproduce 3f9c2a...        # exit 0 when every metric agrees within its tolerance

What a run records (see `crosstrain.tracking.lineage`) is enough to make it again: the git commit
(TAG_GIT_COMMIT), the effective params (EFFECTIVE_PARAMS_ARTIFACT, checked against TAG_PARAMS_HASH),
the DVC hash of the prepared data (TAG_DATA_DIGEST, "<md5>.dir") and the task, framework and seed.
`reproduce` checks the commit out into a temporary git worktree, writes the params there, restores the
data by its hash (`dvc pull` through this repository's DVC cache, from its default remote when the
cache lacks it), checks the restored data hashes to the run's digest, then validates, trains that one
seed and evaluates, with the commit's own code (its `src/` comes first on PYTHONPATH).

The new run goes to a throwaway MLflow store inside the temporary tree, so the user's store gets no
noise; `--keep` leaves the tree (and that store) for a look. Only quality metrics are compared: with
`train.deterministic` the same inputs give the same numbers on the same machine, so the tolerances are
tight (`Tolerances`); timings, latency and memory are never expected to repeat.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from crosstrain import names
from crosstrain.config import MlflowConfig, load_settings
from crosstrain.errors import CrosstrainError, MissingInputError, TrackingError
from crosstrain.tracking.client import RetryingClient
from crosstrain.tracking.retry import TrackingRefused
from crosstrain.tracking.tracker import Tracker

LOCK_FILE = "dvc.lock"
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
# Variables that would point the retraining at the user's store, or make it wait for distributed peers.
ENV_LEAKS = ("MLFLOW_", "TF_CONFIG", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
             "TORCHELASTIC_", "CROSSTRAIN_")
ACCURACY_METRICS = (names.TEST_ACCURACY, names.TEST_MACRO_F1, names.TRAIN_ACCURACY, names.VAL_ACCURACY)
LOSS_METRICS = (names.TEST_LOG_LOSS, names.TRAIN_LOSS, names.VAL_LOSS)


class ReproduceError(CrosstrainError):
    """A run cannot be reproduced: no such run, no lineage, unknown commit, data not restorable."""


class DataMismatchError(ReproduceError):
    """The restored data is not the data the run trained on."""


@dataclass(frozen=True)
class Tolerances:
    """Largest |new - original| that still counts as agreement.

    Accuracy and macro-F1 are fractions of the same rows: deterministic training gives exactly the
    same predictions, so 1e-6 only absorbs float printing. Losses are float sums whose last bits may
    move with summation order, hence 1e-5.
    """

    accuracy: float = 1e-6
    loss: float = 1e-5

    def of(self, metric: str) -> float:
        """The tolerance of one compared metric."""
        return self.loss if metric in LOSS_METRICS else self.accuracy


@dataclass(frozen=True)
class Lineage:
    """What a training run was made from, read from its MLflow tags."""

    run_id: str
    task: str
    framework: str
    seed: int
    commit: str
    dirty: bool
    params_hash: str | None
    data_digest: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Comparison:
    """One metric, before and after."""

    metric: str
    original: float
    new: float
    tolerance: float

    @property
    def diff(self) -> float:
        """new - original."""
        return self.new - self.original

    @property
    def agrees(self) -> bool:
        """Within the tolerance."""
        return abs(self.diff) <= self.tolerance


@dataclass(frozen=True)
class Result:
    """A reproduction: the original run, the new one, their metrics side by side."""

    lineage: Lineage
    new_run_id: str
    rows: list[Comparison]
    workdir: Path | None

    @property
    def agrees(self) -> bool:
        """Every compared metric within its tolerance."""
        return bool(self.rows) and all(row.agrees for row in self.rows)


# --- the run -------------------------------------------------------------------------------------


def read_lineage(client: RetryingClient, run_id: str) -> Lineage:
    """The run's lineage tags and metrics; a one-line error when the run is unknown or lacks lineage."""
    try:
        run = client.get_run(run_id)
    except TrackingRefused as err:
        raise ReproduceError(f"no MLflow run {run_id!r} in {client.uri} ({err.error_code})") from None
    tags = run.data.tags
    required = {"commit": names.TAG_GIT_COMMIT, "data digest": names.TAG_DATA_DIGEST, "task": names.TAG_TASK,
                "framework": names.TAG_FRAMEWORK, "seed": names.TAG_SEED}
    missing = [f"{what} ({tag})" for what, tag in required.items() if not tags.get(tag)]
    if missing:
        raise ReproduceError(f"run {run_id} has no lineage to reproduce it from: missing "
                             f"{', '.join(missing)}; only crosstrain training runs with lineage tags can be")
    digest = tags[names.TAG_DATA_DIGEST]
    if not digest.endswith(".dir"):
        raise ReproduceError(f"run {run_id} records data digest {digest[:16]}..., not a DVC hash "
                             "(<md5>.dir): it was made before runs were pinned to a DVC data version")
    return Lineage(
        run_id=run_id,
        task=tags[names.TAG_TASK],
        framework=tags[names.TAG_FRAMEWORK],
        seed=int(tags[names.TAG_SEED]),
        commit=tags[names.TAG_GIT_COMMIT],
        dirty=tags.get(names.TAG_GIT_DIRTY) == "true",
        params_hash=tags.get(names.TAG_PARAMS_HASH),
        data_digest=digest,
        metrics=dict(run.data.metrics),
    )


def effective_params(client: RetryingClient, lineage: Lineage) -> str:
    """The run's effective params file (YAML text)."""
    quiet = os.environ.get(PROGRESS_BAR)
    os.environ[PROGRESS_BAR] = "false"  # one small file: no progress bar between reproduce's lines
    try:
        with tempfile.TemporaryDirectory(prefix="crosstrain-params-") as scratch:
            path = client.download_artifacts(lineage.run_id, names.EFFECTIVE_PARAMS_ARTIFACT, scratch)
            return Path(path).read_text()
    except (TrackingRefused, OSError):
        raise ReproduceError(f"run {lineage.run_id} has no {names.EFFECTIVE_PARAMS_ARTIFACT} artifact: "
                             "its params cannot be restored") from None
    finally:
        if quiet is None:
            os.environ.pop(PROGRESS_BAR, None)
        else:
            os.environ[PROGRESS_BAR] = quiet


# --- the temporary work tree ---------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


def repo_root(start: Path) -> Path:
    """The top of the git work tree holding `start`."""
    out = _run(["git", "rev-parse", "--show-toplevel"], start)
    if out.returncode:
        raise ReproduceError(f"{start.absolute()} is not inside a git repository: run reproduce from a clone")
    return Path(out.stdout.strip())


@contextlib.contextmanager
def worktree(root: Path, commit: str, keep: bool) -> Iterator[Path]:
    """A detached git worktree of `commit` in a new temporary directory; removed afterwards unless `keep`."""
    if _run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], root).returncode:
        raise ReproduceError(f"commit {commit} is not in the repository at {root}: `git fetch` the branch "
                             "the run was made on (or push it from the machine that made the run)")
    path = Path(tempfile.mkdtemp(prefix="crosstrain-reproduce-"))
    added = _run(["git", "worktree", "add", "--detach", "--force", str(path), commit], root)
    if added.returncode:
        shutil.rmtree(path, ignore_errors=True)
        raise ReproduceError(f"git worktree add of {commit} failed: {added.stderr.strip()}")
    try:
        yield path
    finally:
        if not keep:
            _run(["git", "worktree", "remove", "--force", str(path)], root)
            shutil.rmtree(path, ignore_errors=True)
            _run(["git", "worktree", "prune"], root)


def child_env(tree: Path) -> dict[str, str]:
    """The environment of the retraining: the commit's code first, a throwaway MLflow store in the tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_LEAKS)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree / "src"), os.environ.get("PYTHONPATH")]))
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{(tree / 'mlflow.db').as_posix()}"
    return env


def _dvc(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "dvc", *args], cwd)


def restore_data(root: Path, tree: Path, task: str, digest: str) -> str:
    """Put the data whose DVC hash is `digest` at data/prepared/<task> in `tree`; returns where it came from.

    The tree uses this repository's DVC config (its remotes) and cache. dvc.lock at the run's commit
    may predate the run (`make run` locks after the commit it records), so the lock's entry for the
    prepared data is set to the run's hash before `dvc pull`: the cache and remote are addressed by
    content, and the hash is all DVC needs to find the files.
    """
    for name in ("config", "config.local"):
        if (root / ".dvc" / name).is_file():
            (tree / ".dvc").mkdir(exist_ok=True)
            shutil.copy2(root / ".dvc" / name, tree / ".dvc" / name)
    cache = _dvc(["cache", "dir"], root)
    if cache.returncode == 0 and cache.stdout.strip():
        _dvc(["config", "--local", "cache.dir", cache.stdout.strip()], tree)
    out_path = f"data/prepared/{task}"
    pin_lock(tree / LOCK_FILE, task, out_path, digest)
    pulled = _dvc(["pull", "--force", out_path], tree)
    if pulled.returncode:
        remote = _dvc(["remote", "list"], tree).stdout.strip().replace("\n", "; ") or "no remote configured"
        detail = (pulled.stderr or pulled.stdout).strip().splitlines()
        raise ReproduceError(f"data {digest} of task {task} is neither in the DVC cache nor in the remote "
                             f"({remote}): `dvc push` it from where the run was made"
                             + (f" [dvc: {detail[-1]}]" if detail else ""))
    return out_path


def pin_lock(lock: Path, task: str, out_path: str, digest: str) -> None:
    """Make dvc.lock's ingest@<task> entry name the prepared data `digest` (creating the entry if needed)."""
    data = (yaml.safe_load(lock.read_text()) if lock.is_file() else None) or {}
    data.setdefault("schema", "2.0")
    stages = data.setdefault("stages", {})
    stage = stages.setdefault(f"ingest@{task}", {"cmd": f"crosstrain ingest --task {task}"})
    outs = [out for out in stage.get("outs") or [] if out.get("path") != out_path]
    stage["outs"] = [{"path": out_path, "hash": "md5", "md5": digest}, *outs]
    lock.write_text(yaml.safe_dump(data, sort_keys=False))


def check_digest(tree: Path, task: str, digest: str) -> None:
    """Fail, naming both hashes, when the restored data is not what the run trained on."""
    from crosstrain.tracking.lineage import dvc_md5

    found = dvc_md5(tree / "data" / "prepared" / task)
    if found != digest:
        raise DataMismatchError(f"restored data/prepared/{task} hashes to {found}, but the run trained on "
                                f"{digest}: the DVC cache or remote holds different data under that hash")


def retrain(tree: Path, lineage: Lineage, echo: Callable[[str], None]) -> dict:
    """validate, train the one seed, evaluate, in `tree`; returns that seed's train.json."""
    env = child_env(tree)
    task, fw, seed = lineage.task, lineage.framework, lineage.seed
    only = ["--set", f"seeds=[{seed}]"]
    steps = (["validate", "--task", task],
             ["train", "--task", task, "--framework", fw, "--seed", str(seed), *only],
             ["evaluate", "--task", task, "--framework", fw, *only])
    for args in steps:
        echo(f"reproduce: crosstrain {' '.join(args)}")
        done = _run([sys.executable, "-m", "crosstrain.cli.main", *args], tree, env)
        if done.returncode:
            detail = (done.stderr or done.stdout).strip().splitlines()
            why = detail[-1] if detail else f"exit {done.returncode}"
            raise ReproduceError(f"`crosstrain {args[0]}` failed in {tree}: {why}")
    info = tree / "models" / task / fw / names.seed_dir(seed) / names.TRAIN_INFO_FILE
    if not info.is_file():
        raise MissingInputError(f"retraining wrote no {info}")
    return json.loads(info.read_text())


def compare(original: dict[str, float], new: dict[str, float], tolerances: Tolerances) -> list[Comparison]:
    """The quality metrics both runs have, with their tolerances."""
    return [Comparison(m, original[m], new[m], tolerances.of(m))
            for m in (*ACCURACY_METRICS, *LOSS_METRICS) if m in original and m in new]


# --- the whole ------------------------------------------------------------------------------------


def reproduce(
    run_id: str,
    mlflow_cfg: MlflowConfig,
    *,
    start: Path = Path("."),
    tolerances: Tolerances = Tolerances(),
    keep: bool = False,
    echo: Callable[[str], None] = print,
) -> Result:
    """Reproduce training run `run_id` (read from the store `mlflow_cfg` points at) in a temporary tree.

    Raises:
        ReproduceError: No such run, no lineage tags or params artifact, the commit is not in this
            repository, the data is in neither the DVC cache nor the remote, or retraining failed.
        DataMismatchError: The restored data does not hash to the run's data digest (both are named).
    """
    from crosstrain.tracking.lineage import params_hash

    client = Tracker(mlflow_cfg).client()
    lineage = read_lineage(client, run_id)
    params_text = effective_params(client, lineage)
    root = repo_root(start)
    dirty = " (dirty: its uncommitted changes are not recorded)" if lineage.dirty else ""
    echo(f"reproduce: run {run_id} = {lineage.task}/{lineage.framework} seed {lineage.seed}, commit "
         f"{lineage.commit[:12]}{dirty}, data {lineage.data_digest}")
    with worktree(root, lineage.commit, keep) as tree:
        (tree / "params.yaml").write_text(params_text)
        restored = params_hash(load_settings(tree / "params.yaml"))
        if lineage.params_hash and restored != lineage.params_hash:
            echo(f"reproduce: warning: the restored params hash to {restored[:12]}, "
                 f"the run recorded {lineage.params_hash[:12]}")
        restore_data(root, tree, lineage.task, lineage.data_digest)
        check_digest(tree, lineage.task, lineage.data_digest)
        echo(f"reproduce: data/prepared/{lineage.task} restored at {lineage.data_digest} in {tree}")
        info = retrain(tree, lineage, echo)
        if "run_id" not in info:
            raise ReproduceError(f"the retraining in {tree} recorded no MLflow run")
        new_client = Tracker(mlflow_cfg, child_env(tree)["MLFLOW_TRACKING_URI"]).client()
        new_metrics = dict(new_client.get_run(info["run_id"]).data.metrics)
        rows = compare(lineage.metrics, new_metrics, tolerances)
        if not rows:
            raise TrackingError(f"run {run_id} and its reproduction share no quality metric to compare "
                                f"({', '.join((*ACCURACY_METRICS, *LOSS_METRICS))})")
        return Result(lineage, info["run_id"], rows, tree if keep else None)
