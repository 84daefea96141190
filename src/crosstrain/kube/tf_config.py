"""TF_CONFIG for MultiWorkerMirroredStrategy, derived from the environment of a JobSet pod.

Kubeflow Trainer v2 ships no TensorFlow runtime; k8s/trainer/ holds crosstrain's (a plain ML policy:
one JobSet replicated job `node` of N indexed pods). Each pod knows where it is from its labels,
passed into the container by the runtime through the downward API:

    JOBSET_NAME           label jobset.sigs.k8s.io/jobset-name      (the TrainJob's name)
    REPLICATED_JOB_NAME   label jobset.sigs.k8s.io/replicatedjob-name  (`node`)
    JOB_INDEX             label jobset.sigs.k8s.io/job-index        (0: one Job of N pods)
    JOB_COMPLETION_INDEX  set by Kubernetes in Indexed Jobs         (the pod's index = the worker)
    CROSSTRAIN_NUM_NODES  set by crosstrain.kube.trainjob           (N)
    CROSSTRAIN_TF_PORT    set by the runtime                        (2222)

With the JobSet's DNS hostnames (`network.enableDNSHostnames`, on by default; subdomain = the
JobSet's name) worker i answers at `<jobset>-<replicatedjob>-<jobidx>-<i>.<subdomain>`.
Sources: kubernetes-sigs/jobset README ("JobSet labels") and
site/static/examples/simple/jobset-with-network.yaml (hostname format, subdomain default);
kubernetes.io "Indexed Job" (JOB_COMPLETION_INDEX).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

DEFAULT_PORT = 2222


def worker_hosts(
    jobset: str, replicated_job: str, job_index: int, nodes: int, port: int, subdomain: str | None = None
) -> list[str]:
    """`host:port` of every worker, in index order."""
    domain = subdomain or jobset
    return [f"{jobset}-{replicated_job}-{job_index}-{i}.{domain}:{port}" for i in range(nodes)]


def derive(env: Mapping[str, str]) -> dict:
    """The TF_CONFIG dict of this pod, from JobSet's (and crosstrain's) environment variables.

    Raises:
        KeyError: A required variable is missing (not running in a JobSet pod).
        ValueError: The index is outside 0..N-1, or N is below 1.
    """
    nodes = int(env["CROSSTRAIN_NUM_NODES"])
    index = int(env["JOB_COMPLETION_INDEX"])
    if nodes < 1 or not 0 <= index < nodes:
        raise ValueError(f"worker index {index} outside 0..{nodes - 1} (CROSSTRAIN_NUM_NODES={nodes})")
    hosts = worker_hosts(
        env["JOBSET_NAME"],
        env["REPLICATED_JOB_NAME"],
        int(env.get("JOB_INDEX", "0")),
        nodes,
        int(env.get("CROSSTRAIN_TF_PORT", DEFAULT_PORT)),
        env.get("JOBSET_SUBDOMAIN") or None,
    )
    return {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}


def dumps(env: Mapping[str, str]) -> str:
    """TF_CONFIG as TensorFlow reads it: compact JSON."""
    return json.dumps(derive(env), separators=(",", ":"))
