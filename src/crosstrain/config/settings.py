"""The whole of params.yaml as one model, with each section's defaults and the per-task lookups."""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, field_validator

from crosstrain.config import steps
from crosstrain.config.base import Framework, Strict
from crosstrain.config.cluster import ClusterConfig
from crosstrain.config.tasks import TaskConfig
from crosstrain.config.training import TrainConfig
from crosstrain.errors import ConfigError

TASK_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class Settings(Strict):
    """The whole of params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    seed: int = Field(
        default=42, description="Seed of the data split (and of everything not per training run).")
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1,
        description="One training run per seed and framework: initial weights, batch order, dropout.")
    frameworks: list[Framework] = Field(default_factory=lambda: list(Framework), min_length=1)
    tasks: dict[str, TaskConfig] = Field(default_factory=lambda: {"iris": TaskConfig()})
    train: TrainConfig = Field(default_factory=TrainConfig)
    # Named `registry` in code because pydantic's BaseModel already has a `register` attribute.
    registry: steps.RegisterConfig = Field(default_factory=steps.RegisterConfig, alias="register")
    mlflow: steps.MlflowConfig = Field(default_factory=steps.MlflowConfig)
    latency: steps.LatencyConfig = Field(default_factory=steps.LatencyConfig)
    measure: steps.MeasureConfig = Field(default_factory=steps.MeasureConfig)
    speed: steps.SpeedConfig = Field(default_factory=steps.SpeedConfig)
    onnx: steps.OnnxConfig = Field(default_factory=steps.OnnxConfig)
    report: steps.ReportConfig = Field(default_factory=steps.ReportConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must not repeat, got {seeds}")
        return seeds

    @field_validator("tasks")
    @classmethod
    def _task_names(cls, tasks: dict[str, TaskConfig]) -> dict[str, TaskConfig]:
        # A field validator (not a model one) so the error is reported at `tasks`, not the top level.
        for name in tasks:
            if not TASK_NAME.match(name):
                raise ValueError(f"task name {name!r} must match {TASK_NAME.pattern} (it is used in paths)")
        return tasks

    def min_score_for(self, name: str) -> float:
        """The score task `name`'s champion must reach (`register.min_score` unless the task sets its own)."""
        own = self.tasks[name].min_score if name in self.tasks else None
        return self.registry.min_score if own is None else own

    def train_for(self, name: str) -> TrainConfig:
        """The global `train` section with task `name`'s overrides applied."""
        changes = self.task(name).train.model_dump(exclude_none=True)
        return self.train.model_copy(update=changes)

    def task(self, name: str) -> TaskConfig:
        """The config of task `name`, or a ConfigError listing the tasks there are."""
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise ConfigError(f"unknown task {name!r}: params define {known}") from None
