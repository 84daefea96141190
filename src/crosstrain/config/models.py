"""Model specs: one framework-neutral description per architecture, built by models/tf.py and
models/torch.py, and the architectures that fit each modality."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, model_validator

from crosstrain.config.base import Strict


class SoftmaxSpec(Strict):
    """Multinomial logistic regression: standardise, then one dense layer to the classes."""

    kind: Literal["softmax"] = "softmax"


class MLPSpec(Strict):
    """A multi-layer perceptron: standardise, dense layers with `activation`, then the classes."""

    kind: Literal["mlp"] = "mlp"
    hidden: list[PositiveInt] = Field(default_factory=lambda: [16])
    activation: Literal["relu", "tanh"] = "relu"


class CNNSpec(Strict):
    """Images: blocks of conv(k×k, same padding) → batch-norm → ReLU → 2×2 max-pool, one per width,
    then global average pooling, dropout, an optional dense layer, and the class logits."""

    kind: Literal["cnn"] = "cnn"
    widths: list[PositiveInt] = Field(default_factory=lambda: [32, 64, 64])
    kernel_size: PositiveInt = 3
    dense: PositiveInt | None = 64
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    batch_norm: bool = True
    # 0.9 (PyTorch's default, in Keras' sense) rather than Keras' 0.99: with a few hundred steps,
    # 0.99 leaves the moving variance mostly at its initial 1 and inference-mode accuracy collapses.
    bn_momentum: float = Field(
        default=0.9, gt=0.0, lt=1.0,
        description="Keras' sense (moving = m·moving + (1-m)·batch); PyTorch gets 1 - m.",
    )
    bn_epsilon: float = Field(default=1e-3, gt=0.0)


class BiLSTMSpec(Strict):
    """Text: embedding → bidirectional LSTM (concatenated) → mean/max pooling over time → dropout →
    optional dense → logits."""

    kind: Literal["bilstm"] = "bilstm"
    embedding_dim: PositiveInt = 64
    units: PositiveInt = 32
    pooling: Literal["mean", "max"] = "mean"
    dense: PositiveInt | None = None
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)


class TransformerSpec(Strict):
    """Text: token + learned positional embeddings → N post-norm encoder layers (multi-head
    self-attention, feed-forward with ReLU, residuals, layer-norm) → mean pooling → dropout → logits."""

    kind: Literal["transformer"] = "transformer"
    embedding_dim: PositiveInt = 64
    layers: PositiveInt = 2
    heads: PositiveInt = 4
    ff_dim: PositiveInt = 128
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    ln_epsilon: float = Field(default=1e-5, gt=0.0)

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerSpec:
        if self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim {self.embedding_dim} must be divisible by heads {self.heads}")
        return self


ModelSpec = Annotated[
    SoftmaxSpec | MLPSpec | CNNSpec | BiLSTMSpec | TransformerSpec, Field(discriminator="kind")
]
# The kinds that fit each modality; a task without a `model` gets the last (table) or the first.
MODELS_FOR = {"table": ("softmax", "mlp"), "image": ("cnn",), "text": ("bilstm", "transformer")}
