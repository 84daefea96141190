"""The pipeline's distributed train step: stage the inputs, run a TrainJob, wait, fetch the model.

    from crosstrain.kube import launch
    launch.train(params_text, "images", "pytorch", "/path/prepared", "/path/model")

Runs in crosstrain-base (components/train, when `cluster.distributed.workers > 1`); the training
itself runs in the TrainJob's pods, in the framework's image. The TrainJob and the staged files are
deleted afterwards, whatever happened, unless `cluster.distributed.keep_jobs`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crosstrain import names
from crosstrain.config import Framework, Settings
from crosstrain.errors import MissingInputError
from crosstrain.io import read_json
from crosstrain.kube import staging, trainjob


def train(
    settings: Settings,
    params: str,
    task: str,
    framework: Framework | str,
    prepared: Path,
    model_dir: Path,
    *,
    jobs: trainjob.TrainJobs | None = None,
    stage: str | None = None,
    report: Callable[[str], None] = print,
) -> list[dict]:
    """Train `task` in `framework` on a TrainJob; write the models into `model_dir`; return their train.json.

    Worker 0 stages models/<task>/<framework>/ as `crosstrain train` wrote it: one `seed-<s>/` per
    seed in `seeds`, each with its train.json; they are returned in `seeds` order. A seed without
    one is an error naming it (the job ran with other params, or worker 0 stopped early).

    `jobs` and `stage` default to the cluster (in-cluster config) and the MLflow server's artifact proxy.
    """
    framework = Framework(framework)
    settings.task(task)
    dist = settings.cluster.distributed
    name = trainjob.job_name(task, framework.value)
    stage = stage or staging.stage_uri(settings.mlflow.tracking_uri, name)
    jobs = jobs or trainjob.TrainJobs(settings.cluster.namespace)
    staging.put_inputs(stage, params, Path(prepared))
    try:
        jobs.create(trainjob.build(settings, task, framework, name, stage))
        report(
            f"TrainJob {jobs.namespace}/{name}: {dist.workers} nodes of {framework.value}, staged at {stage}"
        )
        try:
            jobs.wait(name, dist.timeout_s, dist.poll_s, report=report)
        finally:
            if not dist.keep_jobs:
                jobs.delete(name)
                report(f"TrainJob {jobs.namespace}/{name}: deleted")
        staging.get_model(stage, Path(model_dir))
    finally:
        if not dist.keep_jobs:
            staging.remove(stage)
    return seed_infos(settings, Path(model_dir))


def seed_infos(settings: Settings, model_dir: Path) -> list[dict]:
    """The train.json of every seed in `settings.seeds` under `model_dir` (seed-<s>/train.json)."""
    infos = []
    for seed in settings.seeds:
        path = Path(model_dir) / names.seed_dir(seed) / names.TRAIN_INFO_FILE
        if not path.is_file():
            raise MissingInputError(
                f"the TrainJob's model has no {path.relative_to(model_dir)} (seed {seed})"
            )
        infos.append(read_json(path))
    return infos
