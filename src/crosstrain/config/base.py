"""What every section of params.yaml shares: the strict, frozen base model and the framework names."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict


class Framework(enum.StrEnum):
    """The frameworks crosstrain compares. Adding one means adding a member and its modules."""

    TENSORFLOW = "tensorflow"
    PYTORCH = "pytorch"


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, and configs never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
