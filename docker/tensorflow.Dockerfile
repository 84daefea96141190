# syntax=docker/dockerfile:1.7
# crosstrain-tensorflow: TensorFlow training with CUDA (tensorflow[and-cuda]: its nvidia-*-cu12 wheels bring
# the CUDA libraries). It trains TensorFlow only (the pipeline's train-tensorflow pods and TensorFlow
# TrainJobs, on GPUs); every step that runs both frameworks in one pod (speed, report) runs on the CPU
# in crosstrain-base. PyTorch is deliberately NOT installed: crosstrain.devices puts a run on the GPU
# only when every installed framework sees one, so a CPU-only torch here would stop
# train.device=auto|cuda on every GPU node ("only TensorFlow sees a GPU"); and a CUDA torch beside
# tensorflow[and-cuda] pins other nvidia-*-cu12 versions in the same venv. Both training images target
# the same CUDA major (CUDA_MAJOR, checked at build time; tests/k8s/test_dockerfiles.py checks they agree).
#   docker build -f docker/tensorflow.Dockerfile -t ghcr.io/crosstrain/crosstrain-tensorflow:0.1.0 .
# Versions match pyproject.toml / requirements.lock (tests/k8s/test_dockerfiles.py checks them).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact tag (line above); checkov does not expand ARGs
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK, and training pods run to completion

FROM ${PYTHON_IMAGE} AS build
ARG TENSORFLOW_VERSION=2.21.0
ARG CUDA_MAJOR=12
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# Every dependency at its locked version; tensorflow[and-cuda] in place of the lock's tensorflow-cpu (the two
# must not share a venv); no torch; then crosstrain. The build fails if TensorFlow is not a CUDA
# ${CUDA_MAJOR}.x build or if anything pulled torch in.
RUN grep -v -E '^(torch|tensorflow|tensorflow_cpu)==' requirements.lock > /tmp/deps.txt \
 && pip install -r /tmp/deps.txt \
 && pip install "tensorflow[and-cuda]==${TENSORFLOW_VERSION}" \
 && pip install --no-deps . \
 && python -c "import tensorflow as tf, sys; v = tf.sysconfig.get_build_info().get('cuda_version'); sys.exit(None if v and str(v).split('.')[0] == '${CUDA_MAJOR}' else f'tensorflow {tf.__version__}: CUDA build {v}, expected ${CUDA_MAJOR}.x')" \
 && python -c "import importlib.util as u, sys; sys.exit('torch must not be installed here' if u.find_spec('torch') else None)"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 crosstrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin crosstrain
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KERAS_HOME=/tmp/.keras \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /workspace
USER 10001:10001
CMD ["crosstrain", "--help"]
