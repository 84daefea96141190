"""`train.device` resolved against what each framework sees (crosstrain.devices.resolve, a pure function).

Each case injects the device names each framework sees: no framework is asked, nothing is mocked.

    .venv/bin/python -m pytest tests/test_devices.py -q
"""

from __future__ import annotations

import pytest

from crosstrain import devices
from crosstrain.config import Framework, TrainConfig
from crosstrain.errors import ConfigError

TF, PT = Framework.TENSORFLOW, Framework.PYTORCH
H200 = "NVIDIA H200"
NONE = {TF: [], PT: []}
ONE = {TF: [H200], PT: [H200]}
TWO = {TF: [H200, H200], PT: [H200, H200]}


def _error(requested: str, seen, **kwargs) -> str:
    with pytest.raises(ConfigError) as raised:
        devices.resolve(requested, seen, **kwargs)
    message = str(raised.value)
    assert "\n" not in message  # the CLI prints it as one line
    return message


@pytest.mark.parametrize("seen", [NONE, ONE, {TF: [], PT: [H200]}])
def test_cpu_is_the_cpu_whatever_is_seen(seen):
    assert devices.resolve("cpu", seen) == "cpu"


def test_auto_is_the_cpu_when_neither_framework_sees_a_gpu():
    assert devices.resolve("auto", NONE) == "cpu"


def test_auto_and_cuda_are_the_gpu_when_both_see_one():
    assert devices.resolve("auto", ONE) == "cuda:0"
    assert devices.resolve("cuda", ONE) == "cuda:0"


def test_worker_i_trains_on_gpu_i():
    assert [devices.resolve("auto", TWO, rank=r, workers=2) for r in (0, 1)] == ["cuda:0", "cuda:1"]


@pytest.mark.parametrize("requested", ["auto", "cuda"])
def test_one_framework_with_a_gpu_is_an_error_naming_which_sees_what(requested):
    message = _error(requested, {TF: [], PT: [H200]})
    assert "only PyTorch sees a GPU" in message
    assert "TensorFlow sees no CUDA devices" in message
    assert "install a CUDA build of TensorFlow, or set train.device=cpu" in message


def test_cuda_with_no_gpu_anywhere_says_neither_framework_sees_one():
    message = _error("cuda", NONE)
    assert message.startswith("train.device=cuda: no CUDA device is visible to either framework")


def test_a_framework_not_installed_is_left_out():
    # A GPU machine with PyTorch only (bench/gpu.py's): the GPU, and PyTorch alone is named.
    assert devices.resolve("auto", {TF: None, PT: [H200]}) == "cuda:0"
    assert "visible to PyTorch" in _error("cuda", {TF: None, PT: []})


def test_cuda_n_out_of_range_is_an_error_with_the_range():
    assert devices.resolve("cuda:1", TWO) == "cuda:1"
    message = _error("cuda:2", TWO)
    assert "train.device=cuda:2 is out of range" in message and "cuda:0 to cuda:1" in message
    # The fewest GPUs either framework sees bound the index.
    assert "out of range" in _error("cuda:1", {TF: [H200], PT: [H200, H200]})


def test_more_workers_than_gpus_and_one_gpu_for_several_workers_are_errors():
    assert "2 workers need a GPU each" in _error("cuda", ONE, rank=1, workers=2)
    assert "use train.device=cuda" in _error("cuda:0", TWO, workers=2)


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cpu:0", "auto:1", "CUDA"])
def test_a_malformed_device_is_refused_by_params_and_by_the_resolver(bad):
    with pytest.raises(ValueError):
        TrainConfig(device=bad)
    with pytest.raises(ConfigError):
        devices.parse(bad)


def test_no_device_node_means_no_gpu_without_asking_a_framework(tmp_path, monkeypatch):
    assert not devices.accelerator_nodes(tmp_path)
    (tmp_path / "nvidia0").touch()
    assert devices.accelerator_nodes(tmp_path)


def test_the_default_is_auto_and_the_cpu_needs_no_framework():
    assert TrainConfig().device == "auto"
    assert devices.for_worker("cpu", local_rank=3) == "cpu"
    assert devices.index("cpu") is None and devices.index("cuda:2") == 2


# --- the CLI: one line, no traceback -----------------------------------------------------------------

no_gpu_here = pytest.mark.skipif(devices.accelerator_nodes(), reason="this machine has a GPU device node")


@no_gpu_here
def test_train_on_cuda_without_a_gpu_is_one_error_line(tmp_path, monkeypatch, capsys):
    import yaml

    from crosstrain.cli.main import main

    # given: a project that has not even been ingested (the device is checked first)
    monkeypatch.chdir(tmp_path)
    source = {"kind": "table", "path": "data/raw/iris.csv", "label_column": "species"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"tasks": {"iris": {"source": source}}}))
    # when
    code = main(["train", "--task", "iris", "--framework", "pytorch", "--set", "train.device=cuda"])
    out, err = capsys.readouterr()
    # then
    assert code == 2, out + err
    assert "Traceback" not in out + err
    assert err.splitlines() == [
        "crosstrain: error: train.device=cuda: no CUDA device is visible to either framework "
        "(TensorFlow sees no CUDA devices, PyTorch sees no CUDA devices); use train.device=auto or cpu, "
        "or run where a GPU is visible"]
