"""The fairness record's TensorFlow half: what a run actually uses, read back from the live objects.

`crosstrain.fairness` compares it field by field with `crosstrain.training.torch_readback`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# First: crosstrain.models.tf sets KERAS_BACKEND (and TensorFlow's log level) before keras is imported.
import crosstrain.models.tf  # noqa: F401

# isort: split
import keras
import tensorflow as tf

from crosstrain.training.keras_adam import Adam
from crosstrain.training.tf_device import device_builds, device_name

if TYPE_CHECKING:
    from crosstrain.training.tf import TrainStep


def _device(variable: keras.Variable) -> str:
    """"cpu" or "cuda:N" (PyTorch's spelling, N the physical index) from a variable's TensorFlow device.

    TensorFlow numbers the GPUs it is shown from 0 (`place` shows it one): logical GPU:i is the i-th
    visible physical device, whose name ends in its index among all GPUs.
    """
    name = variable.value.device.rsplit("device:", 1)[-1]  # e.g. CPU:0, GPU:0
    kind, _, index = name.partition(":")
    if kind == "CPU":
        return "cpu"
    physical = tf.config.get_visible_devices("GPU")[int(index or 0)]
    return f"cuda:{physical.name.rsplit(':', 1)[-1]}"


def fairness_readback(step: TrainStep, model: keras.Model) -> dict[str, Any]:
    """What this run actually uses, read from the live optimiser, loss, layers and TensorFlow's runtime.

    Field names and conventions are those of `crosstrain.training.torch_readback`: momentum of
    batch norm is Keras' (the share of the old statistic), devices are spelled "cpu" / "cuda:N".
    """
    from tensorflow.python.framework import config as framework_config

    opt = step.optimizer
    adam = isinstance(opt, keras.optimizers.Adam)
    layers = list(model._flatten_layers(include_self=False))
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    rates = [layer.rate for layer in layers if isinstance(layer, keras.layers.Dropout)]
    rates += [r for layer in layers if isinstance(layer, keras.layers.LSTM)
              for r in (layer.dropout, layer.recurrent_dropout)]
    mixed = any(layer.dtype_policy.name == "mixed_bfloat16" for layer in layers)
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    return {
        "optimizer.name": type(opt).__name__.lower(),
        "optimizer.betas": [opt.beta_1, opt.beta_2] if adam else None,
        "optimizer.epsilon": opt.epsilon if adam else None,
        "optimizer.epsilon_placement": (
            "after the bias correction" if type(opt).update_step is Adam.update_step
            else "before the step size's bias correction") if adam else None,
        "optimizer.amsgrad": bool(opt.amsgrad) if adam else None,
        "optimizer.momentum": None if adam else float(opt.momentum),
        "optimizer.nesterov": None if adam else bool(opt.nesterov),
        "optimizer.weight_decay": float(opt.weight_decay or 0.0),
        "optimizer.clip_global_norm": opt.global_clipnorm,
        "optimizer.clip_norm_per_tensor": opt.clipnorm,
        "optimizer.clip_value": opt.clipvalue,
        "loss.name": "cross_entropy" if isinstance(step.loss_fn, keras.losses.CategoricalCrossentropy)
        else type(step.loss_fn).__name__,
        "loss.from_logits": bool(step.loss_fn.from_logits),
        "loss.label_smoothing": float(step.loss_fn.label_smoothing),
        # reduction="none": the step sums the per-example losses and divides by their count.
        "loss.reduction": "mean" if step.loss_fn.reduction == "none" else step.loss_fn.reduction,
        "dropout.rates": sorted(float(r) for r in rates if r),
        "normalization.batch_norm": sorted([float(n.momentum), float(n.epsilon)] for n in norms),
        "normalization.layer_norm": sorted(float(layer.epsilon) for layer in layers
                                           if isinstance(layer, keras.layers.LayerNormalization)),
        "normalization.running_variance": "biased" if norms else None,
        "threads.intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "threads.inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "device": sorted({_device(v) for v in model.weights}),
        "device.name": device_name(step.ctx.device if step.ctx.world.distributed else step.device),
        "device.cuda_build": device_builds()["cuda"],
        "device.cudnn_build": device_builds()["cudnn"],
        "precision.policy": "mixed_bfloat16" if mixed else "float32",
        "precision.variables": sorted({str(v.dtype) for v in model.weights}),
        "precision.tf32_matmul": bool(tf32),
        "precision.tf32_conv": bool(tf32),  # one TensorFlow switch for both
        "determinism.ops": bool(framework_config.is_op_determinism_enabled()),
        "compile.scope": "the whole step (forward, backward, optimiser)" if step.jit_compile else "none",
    }
