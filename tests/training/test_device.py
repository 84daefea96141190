"""Every tensor of a training step on the run's device, and precision and TF32 set and recorded alike.

The PyTorch step runs on an explicit device ("cpu" here; "cuda" in the `gpu` tests, skipped without
one): hooks on the model and the loss record where the batch, the labels and the logits are, and
the returned loss and every parameter are checked too. Then both frameworks are configured the
same way and their fairness read-backs must hold the same device, TF32 and precision fields.

    .venv/bin/python -m pytest tests/training/test_device.py -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crosstrain.config import MLPSpec, TrainConfig
from crosstrain.models import torch as torch_models

META = {"modality": "table", "classes": ["a", "b", "c"], "features": ["f0", "f1", "f2", "f3"],
        "feature_mean": [0.0] * 4, "feature_std": [1.0] * 4}
SPEC = MLPSpec(hidden=[8])
X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
Y = (np.arange(16) % 3).astype(np.int64)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to PyTorch")


def _torch_step_on(device: str, precision: str = "fp32") -> dict[str, set[str]]:
    """One PyTorch optimiser step with train.device=`device`; where each tensor it touched lived."""
    from crosstrain.training import torch as torch_training
    from crosstrain.training import torch_readback

    torch_training.configure(1, 0, device=device)
    model = torch_models.build_model(SPEC, META, precision=precision)
    step = torch_training.make_train_step(model, TrainConfig(device=device, precision=precision), X[:1])
    seen: dict[str, set[str]] = {"batch": set(), "labels": set(), "logits": set()}

    def model_input(module, args) -> None:
        seen["batch"].add(str(args[0].device))

    def loss_input(module, args) -> None:
        seen["logits"].add(str(args[0].device))
        seen["labels"].add(str(args[1].device))

    model.register_forward_pre_hook(model_input)
    step.loss_fn.register_forward_pre_hook(loss_input)
    loss = step(X, Y)
    step.synchronize()
    seen["loss"] = {str(loss.device)}
    seen["parameters"] = {str(p.device) for p in model.parameters()}
    seen["optimizer state"] = {str(v.device) for s in step.optimizer.state.values() for v in s.values()
                               if isinstance(v, torch.Tensor) and v.dim() > 0}
    seen["step"] = {str(step.device)}
    seen["readback"] = set(torch_readback.fairness_readback(step, model)["device"])
    return seen


def test_the_pytorch_step_puts_parameters_batch_labels_and_loss_on_the_cpu():
    seen = _torch_step_on("cpu")
    assert seen == {key: {"cpu"} for key in seen}


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "mixed"])
def test_the_pytorch_step_puts_everything_on_the_gpu(precision):
    seen = _torch_step_on("cuda:0", precision)
    assert seen == {key: {"cuda:0"} for key in seen}


def test_autocast_follows_the_device():
    assert torch_models.autocast("mixed", torch.device("cpu")).device == "cpu"
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else _nothing():
        assert torch_models.autocast("mixed", "cuda:0").device == "cuda"


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


FIELDS = ("device", "device.name", "precision.policy", "precision.variables", "precision.tf32_matmul",
          "precision.tf32_conv")


@pytest.mark.parametrize("precision", ["fp32", "mixed"])
def test_precision_and_tf32_are_set_and_recorded_alike_in_both_frameworks(precision):
    import tensorflow as tf

    from crosstrain.models import tf as tf_models
    from crosstrain.training import tf as tf_training
    from crosstrain.training import tf_readback, torch_readback
    from crosstrain.training import torch as torch_training

    budget = TrainConfig(device="cpu", precision=precision)
    readbacks = {}
    for name, models, training, readback in (("tensorflow", tf_models, tf_training, tf_readback),
                                             ("pytorch", torch_models, torch_training, torch_readback)):
        training.configure(1, 0, device=budget.device)
        model = models.build_model(SPEC, META, precision=precision)
        readbacks[name] = readback.fairness_readback(training.make_train_step(model, budget, X[:1]), model)
    # Set: TF32 off in both libraries (PyTorch's convolutions default to on, TensorFlow's everything).
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    # Recorded: the same values under the same names.
    tf_fields, torch_fields = ({f: readbacks[fw][f] for f in FIELDS} for fw in ("tensorflow", "pytorch"))
    assert tf_fields == torch_fields
    assert torch_fields["precision.tf32_matmul"] is False and torch_fields["precision.tf32_conv"] is False
    assert torch_fields["device"] == ["cpu"] and torch_fields["device.name"] == "cpu"
    assert torch_fields["precision.policy"] == ("float32" if precision == "fp32" else "mixed_bfloat16")
    for fw in readbacks:  # the CPU builds' CUDA/cuDNN: none, recorded as such
        assert {readbacks[fw]["device.cuda_build"], readbacks[fw]["device.cudnn_build"]} <= {None} or \
            torch.cuda.is_available()
