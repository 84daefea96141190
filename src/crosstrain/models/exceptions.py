"""Named exceptions: where a framework's stock block computes something (slightly) different.

Each model is built from its framework's own fused blocks (`torch_layers`, `tf`), because a hand-written
twin of the other framework's layer made crosstrain's PyTorch CNN 1.2-1.5x slower than a stock one
(issue 12). Where a stock block differs in meaning from its twin and the difference is too small to be
worth a slower model, it is named here, with its bound, instead of being corrected:

    from crosstrain.models.exceptions import known_differences
    known_differences(spec)                         # {key: reason} for this architecture
    known_differences(spec, meta, batch_size=32)    # the same keys, the bound worked out for this data

Keys are short and stable (fairness records and reports cite them); every other part of a model is the
same function in both frameworks (tests/models/test_parity*.py).
"""

from __future__ import annotations

from crosstrain.config import CNNSpec, ModelSpec

RUNNING_VARIANCE = "normalization.running_variance"

KNOWN_DIFFERENCES: dict[str, str] = {
    RUNNING_VARIANCE: (
        "cnn with batch_norm: PyTorch's BatchNorm2d updates running_var with the unbiased batch variance "
        "(x n/(n-1), n = batch x height x width at that layer), Keras' BatchNormalization its "
        "moving_variance with the biased one; training normalises by the biased variance in both, so only "
        "inference-time statistics differ: running variance by at most 1/(n-1), the normalised "
        "activations by at most 1/(2(n-1)), relative"
    ),
}
"""Every named exception, by key, with the architectures it applies to at the start of its reason."""


def batch_norm_sizes(spec: CNNSpec, meta: dict, batch_size: int) -> list[int]:
    """n = batch x height x width that each batch-norm layer of the CNN averages over, in layer order.

    Layer i sees the image after i 2x2 max-poolings (floor division, as both frameworks pool).
    """
    height, width = meta["image_shape"][:2]
    sizes = []
    for _ in spec.widths:
        sizes.append(batch_size * height * width)
        height, width = height // 2, width // 2
    return sizes


def running_variance_bound(spec: CNNSpec, meta: dict, batch_size: int) -> float:
    """The largest relative gap between PyTorch's running_var and Keras' moving_variance: 1/(n-1), n smallest.

    Both start at the same value and average in the same batch variances with the same momentum, PyTorch's
    scaled by n/(n-1): its running variance is Keras' times at most n/(n-1). (n = 1 has no bound: PyTorch
    refuses to train batch norm on one value per channel.)
    """
    n = min(batch_norm_sizes(spec, meta, batch_size))
    return 1.0 / (n - 1) if n > 1 else float("inf")


def known_differences(
    spec: ModelSpec, meta: dict | None = None, batch_size: int | None = None
) -> dict[str, str]:
    """The named exceptions that apply to a model of `spec`: {key: reason}; empty when both are exact.

    Given the data's `meta` (its image shape) and the smallest training batch one process normalises
    (a short last batch, a DDP rank's shard), a reason ends with the bound worked out for them.
    """
    found: dict[str, str] = {}
    if isinstance(spec, CNNSpec) and spec.batch_norm:
        reason = KNOWN_DIFFERENCES[RUNNING_VARIANCE]
        if meta is not None and batch_size is not None:
            n = min(batch_norm_sizes(spec, meta, batch_size))
            bound = running_variance_bound(spec, meta, batch_size)
            reason += f"; here n >= {n:,}: running variance under {bound:.2g} ({100 * bound:.2g}%)"
        found[RUNNING_VARIANCE] = reason
    return found
