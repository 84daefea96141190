"""One comparison task: its data source, split, preprocessing, model and per-task training changes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, TypeAdapter, ValidationError, model_validator

from crosstrain.config.base import Strict
from crosstrain.config.models import MODELS_FOR, MLPSpec, ModelSpec
from crosstrain.config.sources import Modality, SklearnSource, Source, modality
from crosstrain.config.training import TrainOverride


class Split(Strict):
    """Fractions of the examples in each split; a stratified split drawn from `seed`."""

    train: PositiveFloat = 0.7
    val: PositiveFloat = 0.15
    test: PositiveFloat = 0.15

    @model_validator(mode="after")
    def _sums_to_one(self) -> Split:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self


class TextConfig(Strict):
    """Framework-neutral text preprocessing, fitted on the train split only."""

    vocab_size: int = Field(
        default=10_000, ge=3, description="Most frequent tokens kept, plus <pad> and <unk>."
    )
    min_freq: PositiveInt = Field(default=2, description="Tokens seen fewer times in train map to <unk>.")
    seq_len: PositiveInt = Field(default=128, description="Sequences are padded or truncated to this length.")
    lowercase: bool = True


class ImageConfig(Strict):
    """Framework-neutral image scaling, done once: to [0, 1], or standardised with train-split statistics."""

    scale: Literal["unit", "standardize"] = "unit"


class Preprocess(Strict):
    """Preprocessing per modality; only the part matching the task's data is used.

    One key per task (`tasks.<name>.preprocess`) so the DVC ingest stage can depend on it for every task.
    """

    text: TextConfig = Field(default_factory=TextConfig)
    image: ImageConfig = Field(default_factory=ImageConfig)


class TaskConfig(Strict):
    """One comparison task: where its data comes from, how it is split, and what model to train."""

    enabled: bool = True
    source: Source = Field(default_factory=SklearnSource)
    split: Split = Field(default_factory=Split)
    limit: PositiveInt | None = Field(default=None, description="Max training examples; null = all.")
    model: ModelSpec = Field(default_factory=MLPSpec)
    preprocess: Preprocess = Field(
        default_factory=lambda: Preprocess(),
        description="Framework-neutral preprocessing, done once in ingest.",
    )
    train: TrainOverride = Field(
        default_factory=lambda: TrainOverride(),
        description="Per-task changes to the global `train` section.",
    )
    min_score: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="This task's bar for the champion; `register.min_score` if null.",
    )

    @property
    def modality(self) -> Modality:
        """What kind of examples the task's source yields: table, image or text."""
        return modality(self.source)

    @property
    def text(self) -> TextConfig:
        """The text preprocessing (used when the task's data is text)."""
        return self.preprocess.text

    @property
    def image(self) -> ImageConfig:
        """The image scaling (used when the task's data is images)."""
        return self.preprocess.image

    @model_validator(mode="before")
    @classmethod
    def _default_model(cls, data: Any) -> Any:
        # Without a `model`, a task gets the default architecture of its data's modality.
        if isinstance(data, dict) and "model" not in data and isinstance(data.get("source"), dict):
            try:
                source = TypeAdapter(Source).validate_python(data["source"])
            except ValidationError:
                return data  # the `source` field's own validation reports it, at its own path
            kind = modality(source)
            data = {**data, "model": {"kind": MODELS_FOR[kind][-1 if kind == "table" else 0]}}
        return data

    @model_validator(mode="after")
    def _model_fits_data(self) -> TaskConfig:
        allowed = MODELS_FOR[self.modality]
        if self.model.kind not in allowed:
            raise ValueError(
                f"model kind {self.model.kind!r} does not fit {self.modality} data from source "
                f"{self.source.kind!r}; use one of {', '.join(allowed)}"
            )
        return self
