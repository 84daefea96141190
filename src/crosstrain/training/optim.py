"""Optimiser constants both frameworks must share.

Keras' Adam defaults to epsilon=1e-7 and PyTorch's to 1e-8; crosstrain sets one value in both.
One difference remains and is inherent: Keras adds epsilon to sqrt(v_t) before the bias
correction of the step size, PyTorch after, so the effective epsilon differs by sqrt(1 - beta2^t).
With epsilon this small the trajectories agree to float32 noise in practice (tests check it).
"""

ADAM_EPSILON = 1e-7
# Keras' and PyTorch's defaults agree today; set here once so the two can never drift apart.
ADAM_BETAS = (0.9, 0.999)
