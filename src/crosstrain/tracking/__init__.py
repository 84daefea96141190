"""Tracking: MLflow behind one object, created at the edge (a CLI command, a component) and passed in.

    from crosstrain import tracking

    tracker = tracking.tracker(settings.mlflow, enabled=world.is_chief)
    with tracker.start_run(run_name=name, tags=tags, params=params, settings=settings) as run_id:
        tracker.log_metrics({"val/accuracy": 0.9}, step=0)

Every MLflow call in crosstrain goes through this package, so every one gets the outage retries and,
for runs, the offline journal. The modules, one idea each:

    store.py     which store: the URI in force, its checks, the sqlite busy timeout and open lock
    tracker.py   Tracker: start/resume a run and log to it (retried, journaled when the store is lost)
    runlog.py    what each log call does online and in the journal
    base.py      NoTracker, the no-op twin (`Tracking` = Tracker | NoTracker: mypy checks both)
    client.py    the retrying MlflowClient and artifact repository, for calls outside a run
    retry.py     the backoff and the errors it ends in;  offline.py  the journal and its sync
    runs.py      comparison runs and their children;   lineage.py  what a run was made from
    registry.py, candidates.py, gate.py   the register step and its champion gate
    pyfunc.py    the model as registered: one pyfunc over either framework, raw inputs to class names
"""

from __future__ import annotations

from typing import TypeAlias

from crosstrain.config import MlflowConfig
from crosstrain.tracking.base import NoTracker
from crosstrain.tracking.tracker import Tracker

# Either tracker: every caller is checked against both classes, so they cannot drift apart.
Tracking: TypeAlias = Tracker | NoTracker

__all__ = ["NoTracker", "Tracker", "Tracking", "tracker"]


def tracker(cfg: MlflowConfig, *, enabled: bool = True, uri: str | None = None) -> Tracking:
    """The tracker for `cfg`'s store (`uri` overrides it), or a NoTracker when not `enabled`.

    Args:
        cfg: params' `mlflow` section.
        enabled: False for ranks other than 0 and callers that don't track: every call does nothing.
        uri: A store to use instead of MLFLOW_TRACKING_URI / `cfg.tracking_uri`.
    """
    return Tracker(cfg, uri) if enabled else NoTracker()
