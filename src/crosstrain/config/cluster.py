"""The `cluster` section of params.yaml: how the Kubeflow pipeline places and sizes its steps.

Only the Kubeflow path (`crosstrain pipeline compile|submit`, pipelines/pipeline.py) reads it;
`dvc repro` and `crosstrain pipeline run --local` ignore placement.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from crosstrain import __version__
from crosstrain.config.base import Strict

ImageKind = Literal["base", "tensorflow", "pytorch"]
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
class Toleration(Strict):
    """A Kubernetes toleration, as kfp.kubernetes.add_toleration takes it."""

    key: str
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = "NoSchedule"


class GpuConfig(Strict):
    """Where and with how many accelerators training runs; CPU-only steps never request one."""

    accelerator: str = Field(default="nvidia.com/gpu", description="Accelerator resource type.")
    count: int = Field(default=1, ge=0, description="Accelerators per training task; 0 = train on CPU.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels training pods need.")
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists")]
    )


class Resources(Strict):
    """CPU and memory requests and limits of one kind of step (Kubernetes quantities)."""

    cpu_request: str = Field(default="1", pattern=QUANTITY)
    cpu_limit: str = Field(default="2", pattern=QUANTITY)
    memory_request: str = Field(default="2G", pattern=QUANTITY)
    memory_limit: str = Field(default="4G", pattern=QUANTITY)


class ResourcesConfig(Strict):
    """Requests and limits per kind of step."""

    cpu_steps: Resources = Field(default_factory=Resources)
    train: Resources = Field(
        default_factory=lambda: Resources(
            cpu_request="4", cpu_limit="8", memory_request="8G", memory_limit="16G"
        )
    )
    shm_size: str = Field(
        default="2Gi",
        pattern=QUANTITY,
        description="Size of the memory-backed /dev/shm of PyTorch training (DataLoader workers).",
    )


class ImagesConfig(Strict):
    """The three crosstrain images the components run in: `<registry>/crosstrain-<kind>:<tag>`."""

    registry: str = "ghcr.io/crosstrain"
    tag: str | None = Field(default=None, description="Image tag; the package version when null.")

    def image(self, kind: ImageKind) -> str:
        """The full reference of one image, e.g. ghcr.io/crosstrain/crosstrain-pytorch:0.1.0."""
        return f"{self.registry.rstrip('/')}/crosstrain-{kind}:{self.tag or __version__}"


class SecretsConfig(Strict):
    """Kubernetes Secrets whose keys become environment variables of the steps that talk to MLflow.

    Names only: the values live in the cluster (k8s/base/secrets), never in the pipeline YAML.
    """

    mlflow: str | None = Field(
        default="crosstrain-mlflow-client",
        description="Secret with `username`/`password` for MLflow basic auth; null = none.",
    )
    object_store: str | None = Field(
        default="crosstrain-object-store",
        description="Secret with `access_key`/`secret_key` for S3 (MinIO); null = none.",
    )
    optional: bool = Field(default=False, description="Start the pod even when a Secret is missing.")


class TrainJobConfig(Strict):
    """Data-parallel training on several nodes: a Kubeflow Trainer TrainJob (crosstrain.kube.trainjob).

    With `workers: 1` the pipeline's train step trains in its own pod; above 1 it launches a TrainJob
    (PyTorch: Trainer's `torch-distributed` runtime; TensorFlow: k8s/trainer's runtime) and waits.
    """

    workers: PositiveInt = Field(
        default=1, description="Training nodes; above 1 the pipeline's train step runs a Kubeflow TrainJob."
    )
    keep_jobs: bool = Field(
        default=False, description="Keep finished TrainJobs and their staged files (for debugging)."
    )
    timeout_s: PositiveInt = Field(
        default=24 * 3600, description="Fail the train step when its TrainJob runs longer (seconds)."
    )
    poll_s: PositiveFloat = Field(default=15.0, description="Seconds between TrainJob status checks.")


class ClusterConfig(Strict):
    """Everything cluster-specific; see k8s/ and pipelines/README.md."""

    gpu: GpuConfig = Field(default_factory=GpuConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    mlflow_tracking_uri: str = Field(
        default="http://mlflow.crosstrain.svc.cluster.local:5000",
        description="The tracking server as pods see it (k8s/base); replaces mlflow.tracking_uri there.",
    )
    s3_endpoint_url: str | None = Field(
        default="http://minio.crosstrain.svc.cluster.local:9000",
        description="MLFLOW_S3_ENDPOINT_URL for direct artifact access (MinIO); null = AWS S3.",
    )
    retries: int = Field(default=2, ge=0, description="Retries of a failed training task.")
    namespace: str = "kubeflow"
    distributed: TrainJobConfig = Field(default_factory=TrainJobConfig)
