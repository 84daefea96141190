# syntax=docker/dockerfile:1.7
# crosstrain-base: CPU steps (configure, ingest, validate, speed, measure, evaluate, export, reference, register,
# report, the distributed-training launcher) and the MLflow server. CPU builds of BOTH frameworks: its pods
# never get a GPU, and speed and report run both frameworks in one pod (tests/k8s/test_dockerfiles.py).
#   docker build -f docker/base.Dockerfile -t ghcr.io/crosstrain/crosstrain-base:0.1.0 .    (or: make images)
# Versions match pyproject.toml / requirements.lock (tests/k8s/test_dockerfiles.py checks them).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact tag (line above); checkov does not expand ARGs
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK; the MLflow server's probes are in k8s/base/mlflow.yaml

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TENSORFLOW_VERSION=2.21.0
# The MLflow server's drivers for PostgreSQL and S3 (MinIO); the steps themselves don't need them.
ARG PSYCOPG2_VERSION=2.9.10
ARG BOTO3_VERSION=1.35.99
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# Every dependency at its locked version; the frameworks as CPU builds; then crosstrain itself.
RUN grep -v -E '^(torch|tensorflow|tensorflow_cpu)==' requirements.lock > /tmp/deps.txt \
 && pip install -r /tmp/deps.txt \
 && pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}+cpu" \
 && pip install "tensorflow-cpu==${TENSORFLOW_VERSION}" "psycopg2-binary==${PSYCOPG2_VERSION}" \
      "boto3==${BOTO3_VERSION}" \
 && pip install --no-deps .

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 crosstrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin crosstrain
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KERAS_HOME=/tmp/.keras
WORKDIR /workspace
USER 10001:10001
CMD ["crosstrain", "--help"]
