"""The `cluster` section of params.yaml, under the import path pipelines/, components/ and kube/ use.

Its models live with the rest of the schema in crosstrain.config.cluster.
"""

from crosstrain.config.cluster import (
    QUANTITY,
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

__all__ = [
    "QUANTITY", "ClusterConfig", "GpuConfig", "ImageKind", "ImagesConfig", "Resources", "ResourcesConfig",
    "SecretsConfig", "Toleration", "TrainJobConfig",
]
