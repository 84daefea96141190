"""The sections of the steps after training: register, measure, latency, onnx, speed, report, mlflow."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from crosstrain.config.base import Strict
from crosstrain.config.training import MODES


class RegisterConfig(Strict):
    """Which metric crowns the champion, and the score it must reach."""

    metric: Literal["test_accuracy", "test_macro_f1"] = "test_accuracy"
    min_score: float = Field(default=0.9, ge=0.0, le=1.0)
    min_delta: float = Field(
        default=0.0, ge=0.0, description="How much the candidate's mean must beat the current champion's by.")
    tie_breaker: Literal["test_log_loss", "test_macro_f1", "framework_order"] = Field(
        default="test_log_loss",
        description="What picks the champion between frameworks whose accuracy is equivalent or "
        "inconclusive: the lower mean test log-loss, the higher macro-F1, or the first in `frameworks`.")


class LatencyConfig(Strict):
    """How inference latency and throughput are measured, the same for native, ONNX and every mode."""

    calls: int = Field(default=200, ge=1, description="Timed batch-1 calls (after warm-up) for p50/p95/p99.")
    warmup: int = Field(default=20, ge=0, description="Untimed batch-1 calls first.")
    throughput_batch: PositiveInt = Field(
        default=256, description="Batch size of the throughput measurement.")
    throughput_repeats: PositiveInt = Field(
        default=5, description="Timed large-batch calls (after one untimed).")


class MeasureConfig(Strict):
    """Execution modes compared in short timed trainings from the same initial weights and batches."""

    modes: list[str] = Field(
        default_factory=lambda: ["eager-fp32", "compiled-fp32", "eager-mixed"],
        description=f"Any of {', '.join(MODES)}.")
    steps: PositiveInt = Field(default=30, description="Timed optimiser steps per mode, after warm-up.")
    warmup_steps: int = Field(
        default=5, ge=0, description="Untimed steps first (the first one's time is the compile time).")

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, modes: list[str]) -> list[str]:
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        if len(set(modes)) != len(modes):
            raise ValueError("modes must not repeat")
        return modes


class OnnxConfig(Strict):
    """Export each trained model to ONNX, check it against the native model, time it in ONNX Runtime."""

    enabled: bool = True
    atol: PositiveFloat = Field(default=1e-4, description="Largest allowed |ONNX - native| logit difference.")
    opset: PositiveInt = 18


class ReportConfig(Strict):
    """How the comparison report computes its intervals and decides its verdicts."""

    confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="Confidence of every interval.")
    bootstrap_samples: PositiveInt = 10_000
    equivalence_margin: PositiveFloat = Field(
        default=0.01, lt=1.0,
        description="Accuracy (and macro-F1) differences within ±this are 'equivalent', once two "
        "one-sided tests at 1 - confidence show it; 0.01 = one accuracy point.")
    speed_equivalence: PositiveFloat = Field(
        default=0.05, lt=1.0,
        description="Speed and memory ratios within 1 ± this are 'equivalent' once two one-sided "
        "tests show it (0.05: within 5%).")


class SpeedConfig(Strict):
    """The timings behind speed and memory verdicts: both frameworks alternately, a fresh process each.

    Each round times one short training (the task's budget and mode, the same initial weights and
    batches) plus batch-1 latency, in a new process per framework, in the order TF, PT, PT, TF, ...
    (ABBA: a drift of the machine during the run falls equally on both).
    """

    rounds: int = Field(
        default=4, ge=2, description="Paired measurements per framework (>= 2 for an interval).")
    steps: PositiveInt = Field(
        default=20, description="Timed optimiser steps per measurement, after warm-up.")
    warmup_steps: int = Field(default=5, ge=0, description="Untimed optimiser steps first, discarded.")


class MlflowConfig(Strict):
    """Where runs are tracked; `MLFLOW_TRACKING_URI` in the environment takes precedence."""

    experiment: str = "crosstrain"
    tracking_uri: str = "sqlite:///mlflow.db"
    retry_timeout_s: float = Field(
        default=120.0, ge=0.0,
        description="How long each MLflow call retries (exponential backoff) while the store is unreachable.")
    retry_initial_s: float = Field(default=0.5, gt=0.0, description="First backoff delay (doubles, to 10 s).")
    offline_fallback: bool = Field(
        default=False,
        description="When the store stays unreachable, journal the run in offline_dir for `crosstrain sync`.")
    offline_dir: str = Field(default="mlruns-offline", description="Where offline runs are journaled.")
    sqlite_timeout_s: float = Field(
        default=30.0, gt=0.0, description="sqlite busy timeout: how long a writer waits for another's lock.")
