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
TEST_ACCURACY = "test_accuracy"
TEST_MACRO_F1 = "test_macro_f1"
TEST_LOG_LOSS = "test_log_loss"
LATENCY_P50 = "latency_ms_p50"
LATENCY_P95 = "latency_ms_p95"
PARAM_COUNT = "param_count"

# Per-epoch curves, in the order of the history CSV's columns.
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACCURACY, VAL_LOSS, VAL_ACCURACY, EPOCH_TIME, LEARNING_RATE)

# --- MLflow tags ---------------------------------------------------------------------------------
TAG_TASK = "crosstrain.task"
TAG_FRAMEWORK = "crosstrain.framework"
TAG_SEED = "crosstrain.seed"
TAG_MODEL = "crosstrain.model"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_DATA_DIGEST = "crosstrain.data_digest"

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
