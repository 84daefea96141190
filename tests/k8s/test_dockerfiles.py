"""docker/*.Dockerfile, checked statically (no Docker engine here): pinned bases, pins agree with
pyproject.toml and requirements.lock, multi-stage, a non-root USER, and `make images` builds all three.

.venv/bin/python -m pytest tests/k8s/test_dockerfiles.py -q
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("base", "tensorflow", "pytorch")


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


@pytest.mark.parametrize("kind", KINDS)
def test_framework_pins_agree_with_pyproject_and_the_lock(kind):
    values, pins, lock = args(dockerfile(kind)), pyproject_pins(), locked()
    assert pins["torch"].specifier.contains(values["TORCH_VERSION"])
    assert lock["torch"].split("+")[0] == values["TORCH_VERSION"]
    assert pins["tensorflow-cpu"].specifier.contains(values["TENSORFLOW_VERSION"])
    assert lock["tensorflow-cpu"] == values["TENSORFLOW_VERSION"]
    # everything else comes from requirements.lock itself
    assert "requirements.lock" in dockerfile(kind)


def test_images_match_the_cuda_split():
    assert "tensorflow[and-cuda]" in dockerfile("tensorflow")
    assert (
        re.search(r"whl/\$\{TORCH_CUDA\}", dockerfile("pytorch"))
        and args(dockerfile("pytorch"))["TORCH_CUDA"]
    )
    assert "whl/cpu" in dockerfile("base")


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
