"""The fairness record of real training runs: equal across frameworks, and a difference is caught.

Each test trains iris for real through `crosstrain.training.job.train` (the function `crosstrain
train` and the Kubeflow component call), in TensorFlow and in PyTorch, and reads the records back
from the seed directories. The "patched" tests break one framework-level setting in the PyTorch run
only - its Adam epsilon, its thread pool, its batch order, its initial weights - and the comparison
must name that field.

    .venv/bin/python -m pytest tests/fairness/test_records.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from crosstrain import names
from crosstrain.config import Settings
from crosstrain.data.dataset import load_meta
from crosstrain.fairness import compare
from crosstrain.fairness.record import indices_digest, weights_digest
from crosstrain.models.spec import initial_weights
from crosstrain.training import loop
from crosstrain.training import torch as torch_training
from crosstrain.training.job import train

SEEDS = [0, 1]
SETTINGS = Settings.model_validate({"seeds": SEEDS, "train": {"epochs": 2, "batch_size": 16, "threads": 1}})


def _records(out: Path) -> list[dict]:
    return [json.loads((out / names.seed_dir(s) / names.FAIRNESS_FILE).read_text()) for s in SEEDS]


def _train(framework: str, prepared: Path, out: Path, settings: Settings = SETTINGS) -> list[dict]:
    train("iris", settings, framework, prepared, out)
    return _records(out)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    import os

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="module")
def trained(iris_prepared, store, tmp_path_factory) -> dict[str, list[dict]]:
    """Both frameworks' records for seeds 0 and 1 (2 epochs of iris each)."""
    base = tmp_path_factory.mktemp("models")
    return {fw: _train(fw, iris_prepared, base / fw) for fw in ("tensorflow", "pytorch")}


def test_both_frameworks_record_the_same_set_up(trained):
    # Given: TensorFlow and PyTorch trained from params that are the same for both
    # When: their records are compared seed by seed
    audit = compare.audit("iris", trained)
    # Then: every field agrees, or differs only as a named exception
    assert audit["fair"], audit["differences"]
    assert audit["seeds"] == SEEDS
    exceptions = {row["field"] for row in audit["rows"] if not row["same"]}
    assert exceptions <= set(compare.EXCEPTIONS)


def test_records_hold_what_ran_not_the_config(trained, iris_prepared):
    meta = load_meta(iris_prepared)
    spec = SETTINGS.tasks["iris"].model
    for fw, records in trained.items():
        for seed, record in zip(SEEDS, records, strict=True):
            fields = record["fields"]
            # Adam's epsilon as each library holds it: Keras' default is 1e-7, PyTorch's 1e-8.
            assert fields["optimizer.epsilon"] == 1e-7, fw
            assert fields["optimizer.betas"] == [0.9, 0.999], fw
            # The pools the libraries report: one intra-op and one inter-op thread, as params say.
            assert (fields["threads.intra_op"], fields["threads.inter_op"]) == (1, 1), fw
            assert fields["precision.tf32_matmul"] is False and fields["precision.tf32_conv"] is False, fw
            # The weights read out of the built model are crosstrain's numpy-drawn ones for this seed.
            assert fields["initial_weights"] == weights_digest(initial_weights(spec, meta, seed)), fw
            # The indices fed in epoch 0 are the shared order for (seed, epoch 0).
            order = loop.batch_order(meta["rows"]["train"], 16, seed, 0)
            assert fields["batch_order.first_epoch"] == indices_digest(order), fw
            assert fields["optimizer.learning_rate.first_step"] == pytest.approx(0.01, rel=1e-6), fw
            assert fields["timer.warmup_steps_excluded"] == SETTINGS.train.warmup_steps, fw
            assert fields["device"] == ["cpu"], fw
        # The two seeds were fed different orders from different weights.
        assert records[0]["fields"]["initial_weights"] != records[1]["fields"]["initial_weights"]
        last_orders = [r["fields"]["batch_order.last_epoch"] for r in records]
        assert last_orders[0] != last_orders[1]


def test_per_epoch_losses_agree_across_frameworks(trained, tmp_path_factory):
    # The records say the set-up is the same; the iris MLP's losses say the training is too.
    del trained
    base = Path(tmp_path_factory.getbasetemp())
    histories = {fw: json.loads(next(base.glob(f"models*/{fw}/seed-0/{names.HISTORY_FILE}")).read_text())
                 for fw in ("tensorflow", "pytorch")}
    tf_loss = [e[names.TRAIN_LOSS] for e in histories["tensorflow"]]
    pt_loss = [e[names.TRAIN_LOSS] for e in histories["pytorch"]]
    assert pt_loss == pytest.approx(tf_loss, rel=1e-4)


def test_the_record_is_on_the_mlflow_run(trained, store, tmp_path_factory):
    from mlflow import MlflowClient

    base = Path(tmp_path_factory.getbasetemp())
    info = json.loads(next(base.glob(f"models*/pytorch/seed-0/{names.TRAIN_INFO_FILE}")).read_text())
    client = MlflowClient(store)
    run = client.get_run(info["run_id"])
    assert run.data.tags[names.TAG_FAIRNESS_DIGEST] == info[names.TAG_FAIRNESS_DIGEST]
    listed = [a.path for a in client.list_artifacts(info["run_id"], names.FAIRNESS_ARTIFACTS)]
    assert listed == [f"{names.FAIRNESS_ARTIFACTS}/{names.FAIRNESS_FILE}"]


def _patched_torch_epsilon(monkeypatch):
    monkeypatch.setattr("crosstrain.training.torch.ADAM_EPSILON", 1e-6)


def _patched_torch_threads(monkeypatch):
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: real(n + 1))


def _patched_torch_batch_order(monkeypatch):
    real = loop.batch_order
    monkeypatch.setattr(loop, "batch_order", lambda *a: [b[::-1] for b in reversed(real(*a))])


def _patched_torch_learning_rate(monkeypatch):
    real = torch_training.TrainStep.set_learning_rate
    monkeypatch.setattr(torch_training.TrainStep, "set_learning_rate", lambda self, lr: real(self, lr * 0.5))


def _patched_torch_initial_weights(monkeypatch):
    monkeypatch.setattr("crosstrain.models.torch.set_weights", lambda model, weights: None)


@pytest.mark.parametrize(("patch", "field", "shown"), [
    (_patched_torch_epsilon, "optimizer.epsilon", "tensorflow 1e-07, pytorch 1e-06"),
    (_patched_torch_threads, "threads.intra_op", "tensorflow 1, pytorch 2"),
    (_patched_torch_batch_order, "batch_order.first_epoch", None),
    (_patched_torch_initial_weights, "initial_weights", None),
    (_patched_torch_learning_rate, "optimizer.learning_rate.first_step", "tensorflow 0.01, pytorch 0.005"),
], ids=["adam-epsilon", "threads", "batch-order", "initial-weights", "learning-rate"])
def test_a_setting_broken_in_pytorch_only_is_named(patch, field, shown, trained, iris_prepared, monkeypatch,
                                                    tmp_path):
    # Given: one framework-level setting broken in the PyTorch training process only
    patch(monkeypatch)
    settings = SETTINGS.model_copy(update={"seeds": [0]})
    patched = _train_one_seed("pytorch", iris_prepared, tmp_path, settings)
    monkeypatch.undo()
    torch.set_num_threads(1)
    # When: its record is compared with TensorFlow's
    lines = compare.differences("iris", {"tensorflow": trained["tensorflow"][:1], "pytorch": patched})
    # Then: the comparison is unfair, and the line names the field (and both values)
    assert any(line.startswith(f"unfair comparison: iris: {field} differs: ") for line in lines), lines
    if shown:
        assert f"unfair comparison: iris: {field} differs: {shown}" in lines


def _train_one_seed(framework: str, prepared: Path, out: Path, settings: Settings) -> list[dict]:
    train("iris", settings, framework, prepared, out)
    return [json.loads((out / names.seed_dir(0) / names.FAIRNESS_FILE).read_text())]
