"""params.yaml, validated once into one typed, frozen config.

Every step reads its settings from here, so a typo in params.yaml fails at start-up with the
field's dotted path instead of at epoch 40. `--set a.b=value` overrides have the meaning of
`dvc exp run -S a.b=value`: the value is parsed as YAML and replaces that key.

The schema is the one home of the defaults; params.yaml spells the same values out (and
tests/test_config.py fails when the two disagree). One module per idea: `sources` (where data
comes from), `models` (architectures), `tasks`, `training` (the budget), `steps` (the sections
after training), `cluster` (Kubeflow placement), `settings` (the whole file) and `loading`.
"""

from crosstrain.config.base import Framework, Strict
from crosstrain.config.cluster import (
    ClusterConfig,
    GpuConfig,
    ImageKind,
    ImagesConfig,
    Resources,
    ResourcesConfig,
    SecretsConfig,
    Toleration,
    TrainJobConfig,
)
from crosstrain.config.loading import DEFAULT_PARAMS, _describe, apply_override, load_settings
from crosstrain.config.models import (
    MODELS_FOR,
    BiLSTMSpec,
    CNNSpec,
    MLPSpec,
    ModelSpec,
    SoftmaxSpec,
    TransformerSpec,
)
from crosstrain.config.settings import TASK_NAME, Settings
from crosstrain.config.sources import (
    IMAGE_SOURCES,
    Cifar10Source,
    ImageFolderSource,
    MnistIdxSource,
    MnistSampleSource,
    Modality,
    RdatasetsSource,
    SklearnSource,
    Source,
    TableSource,
    modality,
)
from crosstrain.config.steps import (
    LatencyConfig,
    MeasureConfig,
    MlflowConfig,
    OnnxConfig,
    RegisterConfig,
    ReportConfig,
    SpeedConfig,
)
from crosstrain.config.tasks import ImageConfig, Preprocess, Split, TaskConfig, TextConfig
from crosstrain.config.training import (
    EXECUTIONS,
    MODES,
    PRECISIONS,
    DistributedConfig,
    Execution,
    Precision,
    TrainConfig,
    TrainOverride,
    mode_name,
    parse_mode,
)

__all__ = [
    "DEFAULT_PARAMS", "EXECUTIONS", "IMAGE_SOURCES", "MODELS_FOR", "MODES", "PRECISIONS", "TASK_NAME",
    "BiLSTMSpec", "CNNSpec", "Cifar10Source", "ClusterConfig", "DistributedConfig", "Execution", "Framework",
    "GpuConfig", "ImageConfig", "ImageFolderSource", "ImageKind", "ImagesConfig", "LatencyConfig", "MLPSpec",
    "MeasureConfig", "MlflowConfig", "MnistIdxSource", "MnistSampleSource", "Modality", "ModelSpec",
    "OnnxConfig", "Precision", "Preprocess", "RdatasetsSource", "RegisterConfig", "ReportConfig", "Resources",
    "ResourcesConfig", "SecretsConfig", "Settings", "SklearnSource", "SoftmaxSpec", "Source", "SpeedConfig",
    "Split", "Strict", "TableSource", "TaskConfig", "TextConfig", "Toleration", "TrainConfig",
    "TrainJobConfig", "TrainOverride", "TransformerSpec", "_describe", "apply_override", "load_settings",
    "mode_name", "modality", "parse_mode",
]
