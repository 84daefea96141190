"""The train step: the same model, data, initial weights, batch order and budget in either framework.

    crosstrain train --task iris --framework pytorch
    crosstrain train --task iris --framework tensorflow --set train.epochs=3
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from crosstrain import backends, names
from crosstrain.config import Framework, Settings
from crosstrain.data.dataset import load_meta, load_split
from crosstrain.io import atomic_dir
from crosstrain.models.spec import describe, initial_weights
from crosstrain.progress import epoch_progress
from crosstrain.training.loop import fit
from crosstrain.tracking import service

log = logging.getLogger(__name__)


def run_params(settings: Settings, task: str, framework: Framework, meta: dict) -> dict:
    """The MLflow params of a training run: identical names for both frameworks."""
    cfg = settings.tasks[task]
    return {
        "task": task,
        "framework": str(framework),
        "seed": settings.seed,
        "model": describe(cfg.model),
        "model_spec": json.dumps(cfg.model.model_dump(), sort_keys=True),
        **settings.train_for(task).model_dump(),
        "limit": cfg.limit,
        "train_rows": meta["rows"]["train"],
        "data_digest": meta["digest"],
    }


def train(task: str, settings: Settings, framework: Framework, prepared: Path, out_dir: Path) -> dict:
    """Train one task in one framework; write the native model, train.json and history.json to `out_dir`.

    Returns train.json's content: run id, model URI, train time, parameter count.
    """
    framework = Framework(framework)
    cfg = settings.task(task)
    meta = load_meta(prepared)
    train_split, val_split = load_split(prepared, "train"), load_split(prepared, "val")

    trainer, models = backends.training(framework), backends.models(framework)
    budget = settings.train_for(task)
    trainer.configure(budget.threads, settings.seed)
    model = models.build_model(cfg.model, meta)
    # The same numpy-drawn initial weights in both frameworks, not each library's default initialiser.
    models.set_weights(model, initial_weights(cfg.model, meta, settings.seed))
    step = trainer.make_train_step(model, budget, train_split.x[:1])
    predict = models.make_predict(model)

    tags = {names.TAG_TASK: task, names.TAG_FRAMEWORK: framework, names.TAG_SEED: settings.seed,
            names.TAG_MODEL: describe(cfg.model), names.TAG_DATA_DIGEST: meta["digest"]}
    with service.start_run(settings.mlflow, run_name=f"{task}-{framework}-s{settings.seed}", tags=tags,
                           params=run_params(settings, task, framework, meta)) as run_id:
        table = Path(prepared) / "train.parquet"
        data = pd.read_parquet(table) if table.exists() else (train_split.x, train_split.y)
        service.log_dataset(data, name=f"{task}-prepared", source=str(Path(prepared).absolute()),
                            digest=meta["digest"])
        with epoch_progress(f"train {task}/{framework}", budget.epochs) as advance:
            def on_epoch(epoch: int, stats: dict[str, float]) -> None:
                service.log_metrics(stats, step=epoch)
                advance(stats)

            history = fit(step, predict, train_split, val_split, cfg=budget, seed=settings.seed,
                          on_epoch=on_epoch, snapshot=lambda: models.get_weights(model),
                          restore=lambda weights: models.set_weights(model, weights))
        param_count = models.param_count(model)
        service.log_metrics({names.TRAIN_TIME: history.train_time, names.PARAM_COUNT: param_count})
        info = models.log_model(model, train_split.x[:5], backends.pip_requirements(framework))
        result = {
            "task": task,
            "framework": str(framework),
            "seed": settings.seed,
            "run_id": run_id,
            "model_uri": info.model_uri,
            names.TRAIN_TIME: history.train_time,
            names.PARAM_COUNT: param_count,
            "epochs": len(history.epochs),
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "data_digest": meta["digest"],
            "final": history.last,
        }
        with atomic_dir(out_dir) as tmp:
            models.save(model, tmp)
            (tmp / names.HISTORY_FILE).write_text(json.dumps(history.epochs, indent=2) + "\n")
            (tmp / names.TRAIN_INFO_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result

