"""Optimiser constants both frameworks must share.

Keras' Adam defaults to epsilon=1e-7 and PyTorch's to 1e-8; crosstrain sets one value in both.
Keras also adds epsilon to sqrt(v_t) before the bias correction of the step size, PyTorch after,
so its effective epsilon is epsilon / sqrt(1 - beta2^t) (32x at step one): far from float32 noise
for small gradients. crosstrain's TensorFlow Adam (`crosstrain.training.keras_adam.Adam`) uses PyTorch's
placement, and the fairness record reads the placement back from each optimiser.
"""

ADAM_EPSILON = 1e-7
# Keras' and PyTorch's defaults agree today; set here once so the two can never drift apart.
ADAM_BETAS = (0.9, 0.999)
