# syntax=docker/dockerfile:1.7
# crosstrain-tensorflow: TensorFlow training with CUDA (the pip wheels bring the CUDA libraries).
#   docker build -f docker/tensorflow.Dockerfile -t ghcr.io/crosstrain/crosstrain-tensorflow:0.1.0 .
# Versions match pyproject.toml / requirements.lock (tests/k8s/test_dockerfiles.py checks them).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact tag (line above); checkov does not expand ARGs
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK, and training pods run to completion

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TENSORFLOW_VERSION=2.21.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# tensorflow[and-cuda] replaces tensorflow-cpu (the two must not share a venv); torch stays a CPU build.
RUN grep -v -E '^(torch|tensorflow|tensorflow_cpu)==' requirements.lock > /tmp/deps.txt \
 && pip install -r /tmp/deps.txt \
 && pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}+cpu" \
 && pip install "tensorflow[and-cuda]==${TENSORFLOW_VERSION}" \
 && pip install --no-deps .

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 crosstrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin crosstrain
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KERAS_HOME=/tmp/.keras \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /workspace
USER 10001:10001
CMD ["crosstrain", "--help"]
