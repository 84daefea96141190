"""The PyTorch modules behind `crosstrain.models.torch`, one per architecture.

Each keeps its named layers in `self.layers` (a ModuleDict keyed by the neutral layer names of
`crosstrain.models.spec`) and computes, step by step, what the Keras graph in `models/tf.py` does.
Inputs arrive in the frameworks' shared layout: float32 NHWC images, int64 (N, T) token ids.

The blocks are PyTorch's own fused ones (nn.Conv2d, nn.BatchNorm2d, nn.LSTM, F.scaled_dot_product_attention),
so each model trains as fast as the stock model a PyTorch user would write (`make bench-overhead`). Where
a stock block differs from Keras, the difference is named in `crosstrain.models.exceptions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crosstrain.config import BiLSTMSpec, CNNSpec, ModelSpec, TransformerSpec
from crosstrain.models.spec import dense_layers

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class CrosstrainModel(nn.Module):
    """Base of the architectures below: declares, typed, the attributes `models.torch` reads and sets.

    Annotations only, no parameters, buffers or methods: modules and state_dicts are as without it.
    """

    input_dtype: type[np.number]  # float32 features or pixels, int64 token ids
    crosstrain_precision: str  # "fp32" or "mixed", set by models.torch.build_model
    crosstrain_arch: dict  # how to rebuild the model: spec, meta (and precision), set by build_model


class Standardize(nn.Module):
    """Fixed (x - mean) / std with train-split statistics, like Keras' Normalization layer."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise each feature column with the train split's mean and standard deviation."""
        return (x - self.mean) / self.std


class MLP(CrosstrainModel):
    """Fixed standardisation, then the dense stack, ending in logits; layers named as in Keras."""

    input_dtype = np.float32

    def __init__(self, spec: ModelSpec, meta: dict) -> None:
        super().__init__()
        self.standardize = Standardize(meta["feature_mean"], meta["feature_std"])
        self.dense = nn.ModuleDict()
        self.activations = []
        for i, layer in enumerate(dense_layers(spec, len(meta["features"]), len(meta["classes"]))):
            self.dense[f"dense_{i}"] = nn.Linear(layer.inputs, layer.outputs)
            self.activations.append(layer.activation)

    @property
    def layers(self) -> nn.ModuleDict:
        """The named layers; kept under `dense` so state_dicts saved before the deep models still load."""
        return self.dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, features) float32 → logits: standardise, then each dense layer and its activation."""
        x = self.standardize(x)
        for linear, activation in zip(self.dense.values(), self.activations, strict=True):
            x = linear(x)
            if activation:
                x = ACTIVATIONS[activation](x)
        return x


def _head(
    model: CNN | BiLSTM | Transformer, spec: CNNSpec | BiLSTMSpec | TransformerSpec, features: int,
    n_classes: int,
) -> None:
    """Dropout → optional dense + ReLU → logits, as `models.tf._head`."""
    model.dropout = nn.Dropout(spec.dropout)
    dense = getattr(spec, "dense", None)  # a transformer has no dense layer
    if dense:
        model.layers["dense"] = nn.Linear(features, dense)
        features = dense
    model.layers["logits"] = nn.Linear(features, n_classes)


def _apply_head(model: CNN | BiLSTM | Transformer, x: torch.Tensor) -> torch.Tensor:
    x = model.dropout(x)
    if "dense" in model.layers:
        x = torch.relu(model.layers["dense"](x))
    return model.layers["logits"](x)


class CNN(CrosstrainModel):
    """conv → [batch-norm] → ReLU → 2×2 max-pool per width, global average pooling, head."""

    input_dtype = np.float32
    dropout: nn.Dropout  # set by _head

    def __init__(self, spec: CNNSpec, meta: dict) -> None:
        super().__init__()
        self.blocks, self.layers = len(spec.widths), nn.ModuleDict()
        channels = meta["image_shape"][-1]
        for i, width in enumerate(spec.widths):
            # Odd kernel, stride 1: padding k//2 on every side is Keras' "same" (spec.check enforces odd k).
            self.layers[f"conv_{i}"] = nn.Conv2d(
                channels, width, spec.kernel_size, padding=spec.kernel_size // 2
            )
            if spec.batch_norm:
                # Keras' momentum m keeps m of the old statistic; PyTorch's momentum is the new batch's share.
                # Stock BatchNorm2d: its running_var takes the unbiased batch variance, Keras' the biased
                # one (exceptions.RUNNING_VARIANCE); both normalise a training batch by the biased one.
                self.layers[f"batch_norm_{i}"] = nn.BatchNorm2d(
                    width, eps=spec.bn_epsilon, momentum=1.0 - spec.bn_momentum
                )
            channels = width
        _head(self, spec, channels, len(meta["classes"]))
        # Conv kernels in channels_last: the NHWC input, permuted to NCHW shape, is then already in the
        # layout oneDNN convolves, so no copy is made (as fast as a stock NCHW model, issue 12).
        # Module.to's stubs lack the memory_format keyword its docs and code accept.
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, H, W, C) float32 images → logits."""
        x = x.permute(0, 3, 1, 2)  # NHWC, as both frameworks receive it → NCHW shape, channels_last strides
        for i in range(self.blocks):
            x = self.layers[f"conv_{i}"](x)
            if f"batch_norm_{i}" in self.layers:
                x = self.layers[f"batch_norm_{i}"](x)
            x = F.max_pool2d(torch.relu(x), 2)
        return _apply_head(self, x.mean(dim=(2, 3)))


class BiLSTM(CrosstrainModel):
    """Embedding → bidirectional LSTM ([forward, backward] per step) → mean/max over time → head.

    Keras' LSTM has one bias per gate, PyTorch's two (bias_ih + bias_hh) that only ever appear summed.
    bias_hh is kept at zero with requires_grad=False, so the model has exactly Keras' trainable
    parameters and function: the neutral bias lives in bias_ih. No masking: padding ids are tokens.
    """

    input_dtype = np.int64
    dropout: nn.Dropout  # set by _head

    def __init__(self, spec: BiLSTMSpec, meta: dict) -> None:
        super().__init__()
        self.pooling, self.layers = spec.pooling, nn.ModuleDict()
        self.layers["embedding"] = nn.Embedding(meta["vocab_size"], spec.embedding_dim)
        lstm = nn.LSTM(spec.embedding_dim, spec.units, batch_first=True, bidirectional=True)
        for suffix in ("l0", "l0_reverse"):
            bias_hh = getattr(lstm, f"bias_hh_{suffix}")
            nn.init.zeros_(bias_hh)
            bias_hh.requires_grad_(False)
        self.layers["lstm"] = lstm
        _head(self, spec, 2 * spec.units, len(meta["classes"]))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, T) int64 token ids → logits."""
        x, _ = self.layers["lstm"](self.layers["embedding"](ids))
        x = x.mean(dim=1) if self.pooling == "mean" else x.amax(dim=1)
        return _apply_head(self, x)


class PositionEmbedding(nn.Module):
    """Adds a learned (seq_len, dim) table to the token embeddings: x + E[:T]."""

    def __init__(self, seq_len: int, dim: int) -> None:
        super().__init__()
        self.embeddings = nn.Parameter(torch.empty(seq_len, dim).uniform_(-0.05, 0.05))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, dim) token embeddings plus the table's first T rows."""
        return x + self.embeddings[: x.shape[1]]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """softmax(q·kᵀ / √(d/h))·v over `heads` heads of projected (B, T, d) tensors; no mask, no dropout.

    The math of `models.tf.ScaledDotProductAttention`, computed by PyTorch's fused kernel (the scale is
    stated, though it is SDPA's default): the written-out softmax(q·kᵀ)·v made a training step 1.39×
    slower, for logits that agree to 4e-8.
    """
    b, t, d = q.shape

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(b, t, heads, d // heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v), scale=1.0 / math.sqrt(d // heads))
    return out.transpose(1, 2).reshape(b, t, d)


class Transformer(CrosstrainModel):
    """Token + learned position embeddings → dropout → N post-norm encoder layers → mean over time → head.

    Encoder layer i (dropout p everywhere, none on the attention probabilities):
        a = output(attention(query(x), key(x), value(x)));  x = norm_1(x + dropout(a))
        f = ff_2(relu(ff_1(x)));                            x = norm_2(x + dropout(f))
    """

    input_dtype = np.int64
    dropout: nn.Dropout  # set by _head

    def __init__(self, spec: TransformerSpec, meta: dict) -> None:
        super().__init__()
        d, self.heads, self.depth = spec.embedding_dim, spec.heads, spec.layers
        self.layers = nn.ModuleDict()
        self.layers["embedding"] = nn.Embedding(meta["vocab_size"], d)
        self.layers["position_embedding"] = PositionEmbedding(meta["seq_len"], d)
        for i in range(spec.layers):
            for part in ("query", "key", "value", "output"):
                self.layers[f"encoder_{i}_{part}"] = nn.Linear(d, d)
            self.layers[f"encoder_{i}_norm_1"] = nn.LayerNorm(d, eps=spec.ln_epsilon)
            self.layers[f"encoder_{i}_ff_1"] = nn.Linear(d, spec.ff_dim)
            self.layers[f"encoder_{i}_ff_2"] = nn.Linear(spec.ff_dim, d)
            self.layers[f"encoder_{i}_norm_2"] = nn.LayerNorm(d, eps=spec.ln_epsilon)
        # One module per place, named as Keras' layers are (dropout draws from the global generator
        # either way): the fairness record counts modules, so a shared one would read as fewer.
        names = ["embedding_dropout"]
        names += [f"encoder_{i}_dropout_{j}" for i in range(spec.layers) for j in (1, 2)]
        self.dropouts = nn.ModuleDict({name: nn.Dropout(spec.dropout) for name in names})
        _head(self, spec, d, len(meta["classes"]))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, T) int64 token ids → logits."""
        layer, drop = self.layers, self.dropouts
        x = drop["embedding_dropout"](layer["position_embedding"](layer["embedding"](ids)))
        for i in range(self.depth):
            name = f"encoder_{i}"
            q, k, v = (layer[f"{name}_{part}"](x) for part in ("query", "key", "value"))
            a = layer[f"{name}_output"](attention(q, k, v, self.heads))
            x = layer[f"{name}_norm_1"](x + drop[f"{name}_dropout_1"](a))
            f = layer[f"{name}_ff_2"](torch.relu(layer[f"{name}_ff_1"](x)))
            x = layer[f"{name}_norm_2"](x + drop[f"{name}_dropout_2"](f))
        return _apply_head(self, x.mean(dim=1))
