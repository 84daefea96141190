"""TF_CONFIG from the JobSet environment (crosstrain.kube.tf_config) and the TF runtime's entrypoint.

.venv/bin/python -m pytest tests/kube/test_tf_config.py -q
"""

from __future__ import annotations

import json

import pytest

from crosstrain.kube import tf_config, tf_entrypoint


def jobset_env(index: int, nodes: int, **extra: str) -> dict[str, str]:
    """A pod of TrainJob `ct-x`: JobSet labels (downward API), Kubernetes' index, crosstrain's N."""
    return {
        "JOBSET_NAME": "ct-x",
        "REPLICATED_JOB_NAME": "node",
        "JOB_INDEX": "0",
        "JOB_COMPLETION_INDEX": str(index),
        "CROSSTRAIN_NUM_NODES": str(nodes),
        **extra,
    }


@pytest.mark.parametrize(("nodes", "index"), [(1, 0), (2, 0), (2, 1), (3, 2), (8, 5)])
def test_every_worker_gets_all_hosts_in_order_and_its_own_index(nodes, index):
    # Given the environment of pod `index` of `nodes`
    config = tf_config.derive(jobset_env(index, nodes))
    # Then the cluster lists every pod's JobSet hostname, and the task is this pod
    assert config["cluster"] == {"worker": [f"ct-x-node-0-{i}.ct-x:2222" for i in range(nodes)]}
    assert config["task"] == {"type": "worker", "index": index}


def test_port_subdomain_and_job_index_come_from_the_environment():
    env = jobset_env(1, 2, CROSSTRAIN_TF_PORT="3333", JOBSET_SUBDOMAIN="net", JOB_INDEX="1")
    assert tf_config.derive(env)["cluster"]["worker"] == ["ct-x-node-1-0.net:3333", "ct-x-node-1-1.net:3333"]


@pytest.mark.parametrize(("nodes", "index"), [(2, 2), (2, -1), (0, 0)])
def test_an_index_outside_the_job_is_an_error(nodes, index):
    with pytest.raises(ValueError, match="outside"):
        tf_config.derive(jobset_env(index, nodes))


def test_outside_a_jobset_pod_names_the_missing_variable():
    env = jobset_env(0, 2)
    del env["JOBSET_NAME"]
    with pytest.raises(KeyError, match="JOBSET_NAME"):
        tf_config.derive(env)


def test_entrypoint_sets_tf_config_then_execs_the_command(monkeypatch):
    # Given pod 1 of 3 (and no TF_CONFIG yet)
    # setenv first so monkeypatch records the original absence and removes what the entrypoint sets
    monkeypatch.setenv("TF_CONFIG", "")
    monkeypatch.delenv("TF_CONFIG")
    for key, value in jobset_env(1, 3).items():
        monkeypatch.setenv(key, value)
    calls = []
    monkeypatch.setattr(tf_entrypoint.os, "execvp", lambda file, args: calls.append((file, args)))
    # When the runtime's entrypoint runs the training command
    tf_entrypoint.main(["--", "crosstrain", "train", "--task", "iris"])
    # Then the command replaces the process with TF_CONFIG in its environment
    assert calls == [("crosstrain", ["crosstrain", "train", "--task", "iris"])]
    assert json.loads(tf_entrypoint.os.environ["TF_CONFIG"])["task"] == {"type": "worker", "index": 1}


def test_entrypoint_without_a_command_is_a_usage_error():
    assert tf_entrypoint.main(["--"]) == 2
