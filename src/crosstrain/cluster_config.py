"""The `cluster` section of params.yaml: how the Kubeflow pipeline places and sizes its steps.

Only the Kubeflow path reads it; `dvc repro` ignores it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Toleration(_Strict):
    """A Kubernetes toleration, as kfp.kubernetes.add_toleration takes it."""

    key: str
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = "NoSchedule"


class GpuConfig(_Strict):
    """Where and with how many accelerators training runs; CPU-only steps never request one."""

    accelerator: str = Field(default="nvidia.com/gpu", description="Accelerator resource type.")
    count: int = Field(default=1, ge=0, description="Accelerators per training task; 0 = train on CPU.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels training pods need.")
    tolerations: list[Toleration] = Field(default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists")])


class Resources(_Strict):
    """CPU and memory requests and limits of one kind of step."""

    cpu_request: str = "1"
    cpu_limit: str = "2"
    memory_request: str = "2G"
    memory_limit: str = "4G"


class ResourcesConfig(_Strict):
    """Requests and limits per kind of step."""

    cpu_steps: Resources = Field(default_factory=Resources)
    train: Resources = Field(default_factory=lambda: Resources(cpu_request="4", cpu_limit="8", memory_request="8G",
                                                               memory_limit="16G"))


class ImagesConfig(_Strict):
    """The three crosstrain images the components run in."""

    registry: str = "ghcr.io/crosstrain"
    tag: str | None = Field(default=None, description="Image tag; the package version when null.")


class ClusterConfig(_Strict):
    """Everything cluster-specific; see k8s/ and the README's "Run on a cluster"."""

    gpu: GpuConfig = Field(default_factory=GpuConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    retries: int = Field(default=2, ge=0, description="Retries of a failed training task.")
    namespace: str = "kubeflow"
    workers: PositiveInt = Field(default=1, description="Data-parallel training nodes (distributed training).")
