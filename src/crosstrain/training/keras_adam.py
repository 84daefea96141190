"""Keras' Adam with PyTorch's epsilon placement: the one optimiser crosstrain's TensorFlow path uses.

Lives apart from `crosstrain.training.tf` because it is one idea: the update rule. Import it through
`crosstrain.training.tf` (which imports `crosstrain.models.tf` first, so KERAS_BACKEND is set).
"""

from __future__ import annotations

import keras
import tensorflow as tf


class Adam(keras.optimizers.Adam):
    """Keras' Adam with epsilon added after the bias correction, as in PyTorch and the Adam paper.

    Keras adds epsilon to sqrt(v) before correcting the step size, which makes its effective epsilon
    epsilon / sqrt(1 - beta2^t): 32x larger at the first step. Elements whose gradient is near that
    size (clipped gradients, rarely seen embeddings) then move by a very different amount - measured
    here, the Transformer's weights differed by 2/3 of a step after one update. The update below is
    PyTorch's `param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`, in the same graph
    ops as Keras' own (Keras has no fused Adam kernel to lose).
    """

    def update_step(self, gradient: tf.Tensor, variable: keras.Variable, learning_rate: tf.Tensor) -> None:
        """One Adam update of `variable`, epsilon added where PyTorch adds it (see the class)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        local_step = ops.cast(self.iterations + 1, variable.dtype)
        bias_1 = 1 - ops.power(ops.cast(self.beta_1, variable.dtype), local_step)
        bias_2 = 1 - ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denominator = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(bias_2)), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / bias_1), denominator))
