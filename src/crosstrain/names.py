"""Names defined once: metrics, tags and file names shared by both trainers, evaluation and reports.

MLflow's compare view lines runs up by metric name, so both frameworks must log exactly these.
"""

from __future__ import annotations

# --- metrics (MLflow and DVC) -------------------------------------------------------------------
TRAIN_LOSS = "train_loss"
TRAIN_ACCURACY = "train_accuracy"
VAL_LOSS = "val_loss"
VAL_ACCURACY = "val_accuracy"
TRAIN_TIME = "train_time_s"
EPOCH_TIME = "epoch_time_s"
LEARNING_RATE = "learning_rate"
FINAL_VAL_ACCURACY = "final_val_accuracy"  # the last epoch's val_accuracy: picks the seed to register
TEST_ACCURACY = "test_accuracy"
TEST_MACRO_F1 = "test_macro_f1"
TEST_LOG_LOSS = "test_log_loss"
LATENCY_P50 = "latency_ms_p50"
LATENCY_P95 = "latency_ms_p95"
LATENCY_P99 = "latency_ms_p99"
THROUGHPUT = "inference_examples_per_s"  # at latency.throughput_batch
PARAM_COUNT = "param_count"
# Speed of training: compile/trace time apart from steady throughput (warm-up steps excluded).
COMPILE_TIME = "compile_time_s"
TRAIN_THROUGHPUT = "train_examples_per_s"
STEP_TIME = "step_time_ms"
# Resources.
PEAK_RSS = "peak_rss_mb"            # high-water resident memory of the training process
TRAIN_RSS = "train_rss_mb"          # that peak minus the resident memory before the model was built
PEAK_DEVICE_MEMORY = "peak_device_memory_mb"  # peak GPU memory the framework allocated (none on the CPU)
MODEL_SIZE = "model_size_mb"        # the saved native model on disk
FLOPS_PER_EXAMPLE = "flops_per_example"   # forward pass, from the model spec
ACHIEVED_FLOPS = "achieved_gflops"  # training: 3 x forward FLOPs x examples/s
MFU = "mfu"                         # achieved / this machine's measured matmul peak
# ONNX: the same latency names with this prefix, plus the parity check.
ONNX_PREFIX = "onnx_"
ONNX_MAX_ABS_DIFF = "onnx_max_abs_diff"
ONNX_SIZE = "onnx_size_mb"

# Per-epoch curves, in the order of the history CSV's columns.
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACCURACY, VAL_LOSS, VAL_ACCURACY, EPOCH_TIME, LEARNING_RATE)

# --- MLflow tags ---------------------------------------------------------------------------------
# The experiment's kind as MLflow 3 records it: model development, the UI's "Machine learning", not
# GenAI (its ExperimentKind enum in mlflow/server/js). MLflow 3 UIs before the GenAI / Model training
# switch chose an experiment's page from it; 3.17's UI goes by that switch (the Makefile's `ui` prints
# an address that sets it).
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"
TAG_TASK = "crosstrain.task"
TAG_FRAMEWORK = "crosstrain.framework"
TAG_SEED = "crosstrain.seed"
TAG_MODEL = "crosstrain.model"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_DATA_DIGEST = "crosstrain.data_digest"
TAG_MODE = "crosstrain.mode"            # eager-fp32, compiled-fp32, ... (see config.MODES)
TAG_KIND = "crosstrain.kind"            # "training", "mode" (a timed mode run), "reference" or "comparison"
TAG_PARENT = "mlflow.parentRunId"       # MLflow's own nesting tag
KIND_TRAINING, KIND_MODE, KIND_COMPARISON = "training", "mode", "comparison"
KIND_REFERENCE = "reference"            # the task's classical reference model (crosstrain reference)
REFERENCE = "reference"                 # its row, run name and metrics file stem
REFERENCE_FRAMEWORK = "scikit-learn"    # its TAG_FRAMEWORK: the library it is fitted with

# --- lineage (#7) --------------------------------------------------------------------------------
# Every MLflow run (training and mode runs) carries these, so `crosstrain reproduce` can rebuild it.
TAG_GIT_DIRTY = "crosstrain.git.dirty"        # "true"/"false": uncommitted changes when the run began
TAG_PARAMS_HASH = "crosstrain.params_hash"    # sha256 of the effective Settings as canonical JSON
# TAG_DATA_DIGEST (above) holds the DVC md5 of data/prepared/<task>, e.g. "3f2a...9c.dir".
TAG_VERSION_PREFIX = "crosstrain.version."    # + python, tensorflow, torch, keras, crosstrain
EFFECTIVE_PARAMS_ARTIFACT = "params/effective_params.yaml"  # the validated Settings, by_alias, as YAML
WEIGHTS_SHA256 = "weights_sha256"             # train.json: sha256 of the trained weights (determinism)

# --- model registry ------------------------------------------------------------------------------
CHAMPION_ALIAS = "champion"


def registered_model_name(task: str) -> str:
    """The registry name of a task's models: one registered model per task."""
    return f"crosstrain-{task}"


# --- files inside the step outputs ---------------------------------------------------------------
SPLITS = ("train", "val", "test")
LABEL_COLUMN = "label"
META_FILE = "meta.json"
VALIDATION_FILE = "validation.json"
DATA_DOCS_DIR = "data_docs"
TRAIN_INFO_FILE = "train.json"
HISTORY_FILE = "history.json"
HISTORY_CSV = "history.csv"          # every seed's epochs: seed, epoch, EPOCH_METRICS..., wall_time_s
PREDICTIONS_CSV = "predictions.csv"  # every seed's test predictions: seed, index, actual, predicted
WALL_TIME = "wall_time_s"            # cumulative training time at the end of an epoch


SEED_DIR_PREFIX = "seed-"


def seed_dir(seed: int) -> str:
    """The sub-directory of one seed's model inside models/<task>/<framework>/."""
    return f"{SEED_DIR_PREFIX}{seed}"


# --- fairness (#12) ------------------------------------------------------------------------------
FAIRNESS_FILE = "fairness.json"                  # a training run's fairness record, in its seed directory
FAIRNESS_ARTIFACTS = "fairness"                  # ... and as the run's MLflow artifact
TAG_FAIRNESS_DIGEST = "crosstrain.fairness_digest"  # sha256 of the record's compared fields

# --- resilience (#8) -----------------------------------------------------------------------------
TAG_CHECKPOINT_KEY = "crosstrain.checkpoint_key"  # sha256 of a training's checkpoint key (params, data, code)
CHECKPOINT_ARTIFACTS = "checkpoint"              # a run's mirrored checkpoint (Kubeflow: durable storage)

# --- other runs' tags and artifact folders -------------------------------------------------------
TAG_SUPPORTED = "crosstrain.supported"           # a mode run: "true" when this build and CPU ran it natively
TAG_TASKS = "crosstrain.tasks"                   # the comparison (parent) run: its tasks, frameworks, seeds
TAG_FRAMEWORKS = "crosstrain.frameworks"
TAG_SEEDS = "crosstrain.seeds"
EVALUATION_ARTIFACTS = "evaluation"              # a training run's test curves, predictions and confusion
ONNX_ARTIFACTS = "onnx"                          # a training run's exported .onnx model
REPORT_ARTIFACTS = "report"                      # the comparison run's HTML/Markdown report
