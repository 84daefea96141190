# syntax=docker/dockerfile:1.7
# crosstrain-pytorch: PyTorch training with CUDA (the cu128 wheels bring the CUDA libraries).
#   docker build -f docker/pytorch.Dockerfile -t ghcr.io/crosstrain/crosstrain-pytorch:0.1.0 .
# Versions match pyproject.toml / requirements.lock (tests/k8s/test_dockerfiles.py checks them).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact tag (line above); checkov does not expand ARGs
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK, and training pods run to completion

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_CUDA=cu128
ARG TENSORFLOW_VERSION=2.21.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN grep -v -E '^(torch|tensorflow|tensorflow_cpu)==' requirements.lock > /tmp/deps.txt \
 && pip install -r /tmp/deps.txt \
 && pip install --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" "torch==${TORCH_VERSION}" \
 && pip install "tensorflow-cpu==${TENSORFLOW_VERSION}" \
 && pip install --no-deps .

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 crosstrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin crosstrain
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /workspace
USER 10001:10001
CMD ["crosstrain", "--help"]
