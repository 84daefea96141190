"""A local journal of MLflow runs logged while the tracking store was unreachable, and their upload.

With `mlflow.offline_fallback: true`, `crosstrain.tracking.Tracker` journals a run here instead of
failing the step; `crosstrain sync` uploads every journaled run once the store is back:

    crosstrain sync --dry-run    # list what would be uploaded
    crosstrain sync              # upload, then mark each run synced (safe to re-run)

One directory per run under `mlflow.offline_dir` (default `mlruns-offline/`):

    offline-<hex>/run.json       name, tags, params, inputs, status, times; the MLflow run id once known
    offline-<hex>/metrics.jsonl  append-only, one {"key", "value", "step", "timestamp"} per line
    offline-<hex>/artifacts/     files as they would be laid out in the run's artifact store

run.json is replaced atomically; each metric line is flushed and fsync'd before the call returns, so
a crash loses at most the line being written (sync reports a torn last line; it never skips others).
A run that lost the server midway has `remote_run_id` set from the start: sync appends to it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrain.errors import TrackingError
from crosstrain.io import atomic_write_json, read_json

PREFIX = "offline-"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
ARTIFACTS = "artifacts"
BATCH = 1000  # MLflow's log_batch takes at most 1000 metrics
log = logging.getLogger(__name__)


def is_offline_id(run_id: str) -> bool:
    """True for the id of a journaled run that never reached MLflow."""
    return run_id.startswith(PREFIX)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Journal:
    """One journaled run (see the module docstring for the layout)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        """The id the run is known by locally: its MLflow id if it had one, else its journal name."""
        return self.info.get("remote_run_id") or self.path.name

    @property
    def info(self) -> dict[str, Any]:
        """run.json as it is now."""
        return read_json(self.path / RUN_FILE)

    def _update(self, **changes: Any) -> None:
        atomic_write_json(self.path / RUN_FILE, {**self.info, **changes})

    @classmethod
    def create(cls, root: Path, *, experiment: str, tracking_uri: str, run_name: str | None = None,
               tags: dict[str, str] | None = None, params: dict[str, str] | None = None,
               remote_run_id: str | None = None) -> Journal:
        """Start a journal: for a new run, or (remote_run_id) for the rest of an existing one."""
        path = Path(root) / f"{PREFIX}{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        (path / METRICS_FILE).touch()
        atomic_write_json(path / RUN_FILE, {
            "experiment": experiment, "tracking_uri": tracking_uri, "run_name": run_name,
            "tags": tags or {}, "params": params or {}, "inputs": [], "remote_run_id": remote_run_id,
            "status": "RUNNING", "start_time": _now_ms(), "end_time": None,
            "synced_metric_lines": 0, "synced": False,
        })
        return cls(path)

    @classmethod
    def open(cls, root: Path, run_id: str) -> Journal:
        """The journal of the offline run `run_id`; TrackingError when there is none."""
        path = Path(root) / run_id
        if not (path / RUN_FILE).is_file():
            raise TrackingError(f"offline run {run_id!r} not found under {str(root)!r}")
        return cls(path)

    def log_params(self, params: dict[str, str]) -> None:
        """Add params (later values win)."""
        self._update(params={**self.info["params"], **params})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Add tags (later values win)."""
        self._update(tags={**self.info["tags"], **tags})

    def log_metrics(self, metrics: dict[str, float], *, step: int, timestamp: int) -> None:
        """Append one line per metric, flushed and fsync'd before returning."""
        lines = "".join(
            json.dumps({"key": k, "value": v, "step": step, "timestamp": timestamp}) + "\n"
            for k, v in metrics.items()
        )
        with (self.path / METRICS_FILE).open("a") as handle:
            end = handle.tell()
            try:
                handle.write(lines)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as err:
                handle.truncate(end)  # no torn line for the next append to land behind
                raise TrackingError(
                    f"cannot journal metrics in {self.path / METRICS_FILE}: {err.strerror or err}") from err

    def log_input(self, **dataset: str) -> None:
        """Record a dataset input (name, source, digest, context)."""
        self._update(inputs=[*self.info["inputs"], dataset])

    def log_text(self, text: str, artifact_file: str) -> None:
        """Write `text` as the artifact `artifact_file`."""
        target = self.path / ARTIFACTS / artifact_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        """Copy a file or a directory's contents under `artifact_path`."""
        base = self.path / ARTIFACTS / (artifact_path or "")
        base.mkdir(parents=True, exist_ok=True)
        if Path(path).is_dir():
            shutil.copytree(path, base, dirs_exist_ok=True)
        else:
            shutil.copy2(path, base / Path(path).name)

    def end(self, status: str) -> None:
        """Mark the run ended with `status` (FINISHED, FAILED, KILLED), now."""
        self._update(status=status, end_time=_now_ms())

    def metrics(self) -> list[dict[str, Any]]:
        """Every journaled metric point, in order; a torn last line (a crash mid-write) is reported."""
        points = []
        lines = (self.path / METRICS_FILE).read_text().splitlines()
        for number, line in enumerate(lines, 1):
            try:
                points.append(json.loads(line))
            except json.JSONDecodeError:
                if number != len(lines):
                    where = f"{self.path / METRICS_FILE}:{number}"
                    raise TrackingError(f"{where} is corrupt: {line[:80]!r}") from None
                log.warning("%s: last line torn by a crash, not uploaded: %r",
                            self.path / METRICS_FILE, line[:80])
        return points


def journals(root: Path) -> list[Journal]:
    """Every journaled run under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [Journal(p) for p in root.iterdir() if p.name.startswith(PREFIX) and (p / RUN_FILE).is_file()]
    return sorted(found, key=lambda j: j.info["start_time"])


@dataclass(frozen=True)
class Synced:
    """What sync did (or, dry, would do) with one journaled run."""

    journal: str
    run_id: str | None
    run_name: str | None
    status: str
    metrics: int
    params: int
    artifacts: int
    action: str  # "uploaded", "would upload", "already synced", "still running"


def _artifact_count(journal: Journal) -> int:
    root = journal.path / ARTIFACTS
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def sync_one(journal: Journal, client: Any, experiment_id: str | None, *, dry_run: bool) -> Synced:
    """Upload one journaled run: create (or find) its run, params, metrics, inputs, artifacts, status.

    Idempotent: the new run's id and how many metric lines went up are saved as it goes, so an
    interrupted sync resumes where it stopped instead of creating a second run.
    """
    from mlflow.entities import Metric, Param, RunTag

    info = journal.info
    points = journal.metrics()
    summary = dict(journal=journal.path.name, run_id=info.get("remote_run_id"), run_name=info.get("run_name"),
                   status=info["status"], metrics=len(points), params=len(info["params"]),
                   artifacts=_artifact_count(journal))
    if info["synced"]:
        return Synced(**summary, action="already synced")
    if info["status"] == "RUNNING":
        return Synced(**summary, action="still running")
    if dry_run:
        return Synced(**summary, action="would upload")
    run_id = info.get("remote_run_id")
    if run_id is None:
        run = client.create_run(experiment_id, start_time=info["start_time"], tags=info["tags"],
                                run_name=info["run_name"])
        run_id = run.info.run_id
        journal._update(remote_run_id=run_id)
    elif info["tags"]:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in info["tags"].items()])
    params = [Param(k, str(v)) for k, v in info["params"].items()]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start:start + 100])
    done = info["synced_metric_lines"]
    while done < len(points):
        chunk = points[done:done + BATCH]
        metrics = [Metric(p["key"], p["value"], p["timestamp"], p["step"]) for p in chunk]
        client.log_batch(run_id, metrics=metrics)
        done += len(chunk)
        journal._update(synced_metric_lines=done)
    if info["inputs"]:
        _log_inputs(client, run_id, info["inputs"])
    if (journal.path / ARTIFACTS).is_dir():
        client.log_artifacts(run_id, str(journal.path / ARTIFACTS))
    client.set_terminated(run_id, info["status"], end_time=info["end_time"])
    journal._update(synced=True)
    return Synced(**{**summary, "run_id": run_id}, action="uploaded")


def _log_inputs(client: Any, run_id: str, inputs: list[dict[str, str]]) -> None:
    """The prepared data's name, source and DVC digest, as log_dataset records them online."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    client.log_inputs(run_id, datasets=[
        DatasetInput(
            Dataset(name=d["name"], digest=d["digest"], source_type="local",
                    source=json.dumps({"uri": d["source"]})),
            tags=[InputTag(MLFLOW_DATASET_CONTEXT, d["context"])],
        )
        for d in inputs
    ])
