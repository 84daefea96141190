"""docker/*.Dockerfile, checked statically (no Docker engine here): pinned bases, pins agree with
pyproject.toml and requirements.lock, multi-stage, a non-root USER, and `make images` builds all three.
The CUDA split: each training image installs its framework's CUDA build and no CPU build of anything
(crosstrain.devices stops a GPU run when one installed framework sees no GPU), the two target one CUDA
major, and in the compiled pipeline no GPU step runs a framework its image has only as a CPU build.

.venv/bin/python -m pytest tests/k8s/test_dockerfiles.py -q
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("base", "tensorflow", "pytorch")
FRAMEWORKS = ("tensorflow", "pytorch")


def dockerfile(kind: str) -> str:
    return (ROOT / "docker" / f"{kind}.Dockerfile").read_text()


def args(text: str) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))


def pyproject_pins() -> dict[str, Requirement]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {r.name: r for r in map(Requirement, deps) if r.marker is None or r.marker.evaluate()}


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return {
        m[1].lower().replace("_", "-"): m[2] for m in (re.match(r"^([\w.-]+)==(\S+)$", x) for x in lines) if m
    }


@pytest.mark.parametrize("kind", KINDS)
def test_base_image_is_pinned_and_multi_stage(kind):
    text, values = dockerfile(kind), args(dockerfile(kind))
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) >= 2, "multi-stage: a build stage and a slim runtime stage"
    image = values["PYTHON_IMAGE"]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+-slim-\w+", image), image
    assert "latest" not in text
    # The Python minor version is the one pyproject requires
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert image.split(":")[1].split("-")[0].rsplit(".", 1)[0] == "3.11" and ">=3.11" in requires


@pytest.mark.parametrize("kind", KINDS)
def test_runs_as_a_non_root_user(kind):
    users = re.findall(r"^USER (\S+)", dockerfile(kind), re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def builds(kind: str) -> dict[str, str]:
    """framework -> "cpu" or "cuda<major>.<minor>"/"cuda<major>", as the image's pip installs declare it."""
    text = dockerfile(kind).replace("\\\n", " ")
    values = args(text)

    def expand(s: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), s)

    found: dict[str, str] = {}
    for line in re.findall(r"pip install [^&\n]*", text):
        line = expand(line)
        if re.search(r"[\"\s]torch==", line):
            index = re.search(r"download\.pytorch\.org/whl/(\w+)", line)
            tag = index[1] if index else "pypi"
            cu = re.fullmatch(r"cu(\d+)(\d)", tag)
            found["pytorch"] = (
                "cpu" if tag == "cpu" or "+cpu" in line or not cu else f"cuda{cu[1]}.{cu[2]}"
            )
        if re.search(r"tensorflow-cpu==", line):
            found["tensorflow"] = "cpu"
        elif re.search(r"tensorflow\[and-cuda\]==", line):
            found["tensorflow"] = f"cuda{values.get('CUDA_MAJOR', '?')}"
        elif re.search(r"[\"\s]tensorflow==", line):
            found["tensorflow"] = "cpu"  # plain tensorflow brings no CUDA libraries
    return found


def cuda_major(build: str) -> str:
    return build.removeprefix("cuda").split(".")[0]


@pytest.mark.parametrize("kind", KINDS)
def test_framework_pins_agree_with_pyproject_and_the_lock(kind):
    values, pins, lock = args(dockerfile(kind)), pyproject_pins(), locked()
    installed = builds(kind)
    assert installed, f"{kind} installs no framework"
    if "pytorch" in installed:
        assert pins["torch"].specifier.contains(values["TORCH_VERSION"])
        assert lock["torch"].split("+")[0] == values["TORCH_VERSION"]
    if "tensorflow" in installed:
        assert pins["tensorflow-cpu"].specifier.contains(values["TENSORFLOW_VERSION"])
        assert lock["tensorflow-cpu"] == values["TENSORFLOW_VERSION"]
    # everything else comes from requirements.lock itself
    assert "requirements.lock" in dockerfile(kind)


def test_base_has_cpu_builds_of_both_frameworks():
    # crosstrain-base never gets a GPU, and speed and report run both frameworks in one of its pods
    assert builds("base") == {"tensorflow": "cpu", "pytorch": "cpu"}
    assert "whl/cpu" in dockerfile("base")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_training_image_installs_its_framework_as_a_cuda_build(framework):
    installed = builds(framework)
    assert installed.get(framework, "").startswith("cuda"), (
        f"crosstrain-{framework} trains {framework} on GPUs but installs {installed.get(framework)}")
    # No CPU build beside it: devices.resolve stops auto/cuda when an installed framework sees no GPU
    cpu = sorted(fw for fw, build in installed.items() if not build.startswith("cuda"))
    assert not cpu, f"crosstrain-{framework} has CPU-only {cpu}: train.device=auto stops on a GPU node"
    # ... and the build itself checks the wheel's CUDA build against CUDA_MAJOR, and the other's absence
    text = dockerfile(framework)
    probe = "torch.version.cuda" if framework == "pytorch" else "get_build_info().get('cuda_version')"
    assert probe in text and "'${CUDA_MAJOR}'" in text
    other = "tensorflow" if framework == "pytorch" else "torch"
    assert f"find_spec('{other}')" in text
    assert re.search(r"^# .*\bNOT installed\b", text, re.M), "a comment says why the other is absent"


def test_the_training_images_target_the_same_cuda_major():
    majors = {kind: args(dockerfile(kind)).get("CUDA_MAJOR") for kind in FRAMEWORKS}
    assert all(majors.values()) and len(set(majors.values())) == 1, majors
    # each installed CUDA build (torch's index cuXYZ, TensorFlow's [and-cuda] at CUDA_MAJOR) is that major
    targeted = {
        f"{kind}:{fw}": cuda_major(build)
        for kind in FRAMEWORKS
        for fw, build in builds(kind).items()
        if build.startswith("cuda")
    }
    assert set(targeted.values()) == set(majors.values()), targeted
    torch_cuda = args(dockerfile("pytorch"))["TORCH_CUDA"]
    assert re.fullmatch(r"cu\d{3}", torch_cuda) and re.search(r"whl/\$\{TORCH_CUDA\}", dockerfile("pytorch"))


def _pipeline():
    """pipelines.pipeline, with the repository root on sys.path (as tests/kfp/conftest.py puts it)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pipelines import pipeline

    return pipeline


def _gpu_steps(settings) -> list[tuple[str, str, str | None]]:
    """(task name, image kind, framework input or None) of every compiled step that requests a GPU."""
    import tempfile

    import yaml

    p = _pipeline()
    with tempfile.TemporaryDirectory() as tmp:
        spec = next(yaml.safe_load_all(p.compile_to(settings, Path(tmp) / "p.yaml").read_text()))
    containers = {name: e["container"] for name, e in spec["deploymentSpec"]["executors"].items()}
    steps = []
    for component in spec["components"].values():
        for name, task in component.get("dag", {}).get("tasks", {}).items():
            executor = spec["components"][task["componentRef"]["name"]].get("executorLabel")
            if executor is None:
                continue
            container = containers[executor]
            if not container.get("resources", {}).get("accelerator"):
                continue
            kind = re.search(r"crosstrain-(\w+):", container["image"])[1]
            fw = task.get("inputs", {}).get("parameters", {}).get("framework", {})
            steps.append((name, kind, fw.get("runtimeValue", {}).get("constant")))
    return steps


GPU_CLUSTER = {"cluster": {"gpu": {"count": 2}, "images": {"registry": "r.example/x", "tag": "t1"}}}


def test_no_gpu_step_runs_a_framework_its_image_has_only_as_a_cpu_build():
    from crosstrain.config import Settings

    steps = _gpu_steps(Settings.model_validate(GPU_CLUSTER))
    # Given params asking for GPUs, the two training steps (and only they) request them
    pairs = sorted((kind, fw) for _, kind, fw in steps)
    assert pairs == [("pytorch", "pytorch"), ("tensorflow", "tensorflow")], steps
    for name, kind, fw in steps:
        installed = builds(kind)
        # a step with no framework input (speed, report) runs every framework its image has
        needs = [fw] if fw else list(FRAMEWORKS)
        for framework in needs:
            assert installed.get(framework, "").startswith("cuda"), (
                f"{name} requests a GPU and runs {framework}, which crosstrain-{kind} has as "
                f"{installed.get(framework, 'nothing')}")
        assert all(b.startswith("cuda") for b in installed.values()), (name, kind, installed)


def test_the_step_timing_both_frameworks_runs_on_the_cpu_in_base():
    import yaml

    spec = next(yaml.safe_load_all(_pipeline().COMPILED.read_text()))
    speed = spec["deploymentSpec"]["executors"]["exec-speed"]["container"]
    assert "accelerator" not in speed.get("resources", {})
    assert re.search(r"crosstrain-base:", speed["image"])


def test_distributed_trainjobs_use_the_cuda_training_images():
    from crosstrain.config import Framework, Settings
    from crosstrain.kube import trainjob

    settings = Settings.model_validate(
        {"cluster": GPU_CLUSTER["cluster"] | {"distributed": {"workers": 2}}})
    for framework in Framework:
        job = trainjob.build(settings, "iris", framework, name="j", stage="s3://b/k")
        trainer = job["spec"]["trainer"]
        assert "nvidia.com/gpu" in json.dumps(trainer["resourcesPerNode"])
        kind = re.search(r"crosstrain-(\w+):", trainer["image"])[1]
        assert builds(kind).get(framework.value, "").startswith("cuda"), (framework, kind, builds(kind))


def test_make_images_builds_and_pushes_all_three():
    out = subprocess.run(
        ["make", "-n", "-f", "k8s/images.mk", "images", "REGISTRY=r.example/x", "TAG=t1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for kind in KINDS:
        assert f"--file docker/{kind}.Dockerfile --tag r.example/x/crosstrain-{kind}:t1" in out
    assert "docker push" in out
