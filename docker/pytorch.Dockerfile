# syntax=docker/dockerfile:1.7
# crosstrain-pytorch: PyTorch training with CUDA (the cu128 wheels bring the CUDA libraries).
# It trains PyTorch only (the pipeline's train-pytorch pods and PyTorch TrainJobs, on GPUs); every step
# that runs both frameworks in one pod (speed, report) runs on the CPU in crosstrain-base.
# TensorFlow is deliberately NOT installed: crosstrain.devices puts a run on the GPU only when every
# installed framework sees one, so a CPU-only tensorflow-cpu here would stop train.device=auto|cuda
# on every GPU node ("only PyTorch sees a GPU"); and a CUDA TensorFlow beside CUDA torch pins other
# nvidia-*-cu12 versions in the same venv. Both training images target the same CUDA major
# (CUDA_MAJOR, checked at build time; tests/k8s/test_dockerfiles.py checks the two agree).
#   docker build -f docker/pytorch.Dockerfile -t ghcr.io/crosstrain/crosstrain-pytorch:0.1.0 .
# Versions match pyproject.toml / requirements.lock (tests/k8s/test_dockerfiles.py checks them).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact tag (line above); checkov does not expand ARGs
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK, and training pods run to completion

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG CUDA_MAJOR=12
ARG TORCH_CUDA=cu128
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# Every dependency at its locked version, torch as the CUDA build, no TensorFlow; then crosstrain.
# The build fails if torch is not a CUDA ${CUDA_MAJOR}.x build or if anything pulled TensorFlow in.
RUN grep -v -E '^(torch|tensorflow|tensorflow_cpu)==' requirements.lock > /tmp/deps.txt \
 && pip install -r /tmp/deps.txt \
 && pip install --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" "torch==${TORCH_VERSION}" \
 && pip install --no-deps . \
 && python -c "import torch, sys; v = torch.version.cuda; sys.exit(None if v and v.split('.')[0] == '${CUDA_MAJOR}' else f'torch {torch.__version__}: CUDA build {v}, expected ${CUDA_MAJOR}.x')" \
 && python -c "import importlib.util as u, sys; sys.exit('TensorFlow must not be installed here' if u.find_spec('tensorflow') else None)"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 crosstrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin crosstrain
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /workspace
USER 10001:10001
CMD ["crosstrain", "--help"]
