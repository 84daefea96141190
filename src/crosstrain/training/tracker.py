"""INTERIM: the tracking calls a training job makes, until crosstrain.tracking's Tracker lands."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.tracking import service

log = logging.getLogger(__name__)


class Tracker:
    """MLflow through crosstrain.tracking.service (retries, offline journal)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def start_run(self, *, run_name: str, tags: dict, params: dict) -> contextlib.AbstractContextManager:
        return service.start_run(self.settings.mlflow, run_name=run_name, tags=tags, params=params,
                                 settings=self.settings)

    def resume_run(self, run_id: str) -> contextlib.AbstractContextManager:
        return service.resume_run(self.settings.mlflow, run_id)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        service.log_metrics(metrics, step=step)

    def set_tags(self, tags: dict[str, str]) -> None:
        service.set_tags(tags)

    def log_dataset(self, data: Any, *, name: str, source: str, digest: str) -> None:
        service.log_dataset(data, name=name, source=source, digest=digest)

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        service.log_artifacts(path, artifact_path)

    def log_model(self, log_fn: Callable[[], Any]) -> Any:
        return service.log_model(log_fn)

    def logged_steps(self, run_id: str, metric: str) -> set[int]:
        return {m.step for m in service.client(self.settings.mlflow).get_metric_history(run_id, metric)}

    def download_checkpoint(self, key: str, into: Path) -> str | None:
        experiment = service.connect(self.settings.mlflow)
        client = service.client(self.settings.mlflow)
        found = client.search_runs(
            [experiment], order_by=["attributes.start_time DESC"], max_results=1,
            filter_string=(f"tags.`{names.TAG_CHECKPOINT_KEY}` = '{key}' "
                           "and attributes.status != 'FINISHED'"))
        if not found:
            return None
        run_id = found[0].info.run_id
        try:
            client.download_artifacts(run_id, names.CHECKPOINT_ARTIFACTS, str(into))
        except Exception as err:  # noqa: BLE001 - no mirror yet (killed before epoch 0 was saved)
            log.warning("run %s has no checkpoint to resume from: %s", run_id, err)
            return None
        return run_id


class NoTracker:
    """Tracks nothing: workers other than rank 0."""

    @contextlib.contextmanager
    def start_run(self, *, run_name: str, tags: dict, params: dict) -> Iterator[str | None]:
        yield None

    @contextlib.contextmanager
    def resume_run(self, run_id: str) -> Iterator[str | None]:
        yield run_id

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def log_dataset(self, data: Any, *, name: str, source: str, digest: str) -> None:
        pass

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def log_model(self, log_fn: Callable[[], Any]) -> Any:
        return None

    def logged_steps(self, run_id: str, metric: str) -> set[int]:
        return set()

    def download_checkpoint(self, key: str, into: Path) -> str | None:
        return None
