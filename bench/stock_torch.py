"""The stock PyTorch models a PyTorch tutorial would write: the reference of bench/overhead.py's model column.

    python bench/overhead.py --frameworks pytorch --cases cnn/images   # times one against crosstrain's

Each is the architecture of a crosstrain spec, written the plain way from stock modules (pytorch/examples,
the PyTorch tutorials): `nn.Sequential` of nn.Linear / nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d on
NCHW input (as torchvision delivers it); a bidirectional `nn.LSTM` with both its biases trainable;
post-norm encoder blocks around `nn.MultiheadAttention` (not nn.TransformerEncoderLayer, whose extra
dropout inside the feed-forward block makes it another function in training).

`build(spec, meta, weights)` loads crosstrain's neutral weights, so the bench can check that the stock
model computes crosstrain's logits before timing either.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from crosstrain.config import BiLSTMSpec, CNNSpec, ModelSpec, TransformerSpec
from crosstrain.models.spec import Weights, dense_layers


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _linear(weights: Weights, name: str) -> nn.Linear:
    kernel = weights[f"{name}/kernel"]
    layer = nn.Linear(*kernel.shape)
    with torch.no_grad():
        layer.weight.copy_(_tensor(kernel.T))
        layer.bias.copy_(_tensor(weights[f"{name}/bias"]))
    return layer


def _head(spec, weights: Weights) -> list[nn.Module]:
    dense = [_linear(weights, "dense"), nn.ReLU()] if getattr(spec, "dense", None) else []
    return [nn.Dropout(spec.dropout), *dense, _linear(weights, "logits")]


class MLP(nn.Module):
    """Standardise with the train-split statistics, then nn.Sequential of Linear and activations."""

    def __init__(self, spec: ModelSpec, meta: dict, weights: Weights) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(meta["feature_mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(meta["feature_std"], dtype=torch.float32))
        layers: list[nn.Module] = []
        for i, layer in enumerate(dense_layers(spec, len(meta["features"]), len(meta["classes"]))):
            layers.append(_linear(weights, f"dense_{i}"))
            if layer.activation:
                layers.append({"relu": nn.ReLU, "tanh": nn.Tanh}[layer.activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def cnn(spec: CNNSpec, meta: dict, weights: Weights) -> nn.Sequential:
    """conv → batch norm → ReLU → max-pool blocks, global average pooling, head; NCHW in."""
    layers: list[nn.Module] = []
    channels = meta["image_shape"][-1]
    for i, width in enumerate(spec.widths):
        conv = nn.Conv2d(channels, width, spec.kernel_size, padding=spec.kernel_size // 2)
        with torch.no_grad():
            conv.weight.copy_(_tensor(weights[f"conv_{i}/kernel"].transpose(3, 2, 0, 1)))
            conv.bias.copy_(_tensor(weights[f"conv_{i}/bias"]))
        layers.append(conv)
        if spec.batch_norm:
            norm = nn.BatchNorm2d(width, eps=spec.bn_epsilon, momentum=1.0 - spec.bn_momentum)
            with torch.no_grad():
                for param, tensor in (("gamma", norm.weight), ("beta", norm.bias), ("moving_mean",
                                      norm.running_mean), ("moving_variance", norm.running_var)):
                    tensor.copy_(_tensor(weights[f"batch_norm_{i}/{param}"]))
            layers.append(norm)
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), *_head(spec, weights))


class BiLSTM(nn.Module):
    """Embedding → bidirectional nn.LSTM → mean/max over time → head (bias_hh trainable, starting at 0)."""

    def __init__(self, spec: BiLSTMSpec, meta: dict, weights: Weights) -> None:
        super().__init__()
        self.embedding = nn.Embedding(meta["vocab_size"], spec.embedding_dim)
        self.lstm = nn.LSTM(spec.embedding_dim, spec.units, batch_first=True, bidirectional=True)
        with torch.no_grad():
            self.embedding.weight.copy_(_tensor(weights["embedding/embeddings"]))
            for direction, suffix in (("forward_lstm", "l0"), ("backward_lstm", "l0_reverse")):
                getattr(self.lstm, f"weight_ih_{suffix}").copy_(_tensor(weights[f"{direction}/kernel"].T))
                getattr(self.lstm, f"weight_hh_{suffix}").copy_(
                    _tensor(weights[f"{direction}/recurrent_kernel"].T))
                getattr(self.lstm, f"bias_ih_{suffix}").copy_(_tensor(weights[f"{direction}/bias"]))
                getattr(self.lstm, f"bias_hh_{suffix}").zero_()
        self.pooling = spec.pooling
        self.head = nn.Sequential(*_head(spec, weights))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm(self.embedding(ids))
        return self.head(x.mean(dim=1) if self.pooling == "mean" else x.amax(dim=1))


class EncoderBlock(nn.Module):
    """Post-norm: x = norm1(x + dropout(MHA(x))); x = norm2(x + dropout(ff2(relu(ff1(x)))))."""

    def __init__(self, spec: TransformerSpec, weights: Weights, name: str) -> None:
        super().__init__()
        d = spec.embedding_dim
        self.attention = nn.MultiheadAttention(d, spec.heads, dropout=0.0, batch_first=True)
        # nn.MultiheadAttention packs query, key and value into one (3d, d) projection.
        parts = ("query", "key", "value")
        with torch.no_grad():
            self.attention.in_proj_weight.copy_(
                _tensor(np.concatenate([weights[f"{name}_{p}/kernel"].T for p in parts])))
            self.attention.in_proj_bias.copy_(
                _tensor(np.concatenate([weights[f"{name}_{p}/bias"] for p in parts])))
            self.attention.out_proj.weight.copy_(_tensor(weights[f"{name}_output/kernel"].T))
            self.attention.out_proj.bias.copy_(_tensor(weights[f"{name}_output/bias"]))
        self.norm1 = nn.LayerNorm(d, eps=spec.ln_epsilon)
        self.norm2 = nn.LayerNorm(d, eps=spec.ln_epsilon)
        with torch.no_grad():
            for j, norm in ((1, self.norm1), (2, self.norm2)):
                norm.weight.copy_(_tensor(weights[f"{name}_norm_{j}/gamma"]))
                norm.bias.copy_(_tensor(weights[f"{name}_norm_{j}/beta"]))
        self.ff1, self.ff2 = _linear(weights, f"{name}_ff_1"), _linear(weights, f"{name}_ff_2")
        self.dropout = nn.Dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, _ = self.attention(x, x, x, need_weights=False)
        x = self.norm1(x + self.dropout(a))
        return self.norm2(x + self.dropout(self.ff2(torch.relu(self.ff1(x)))))


class Transformer(nn.Module):
    """Token + learned position embeddings → dropout → encoder blocks → mean over time → head."""

    def __init__(self, spec: TransformerSpec, meta: dict, weights: Weights) -> None:
        super().__init__()
        self.embedding = nn.Embedding(meta["vocab_size"], spec.embedding_dim)
        self.position = nn.Parameter(_tensor(weights["position_embedding/embeddings"]).clone())
        with torch.no_grad():
            self.embedding.weight.copy_(_tensor(weights["embedding/embeddings"]))
        self.dropout = nn.Dropout(spec.dropout)
        blocks = (EncoderBlock(spec, weights, f"encoder_{i}") for i in range(spec.layers))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(*_head(spec, weights))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(ids) + self.position[: ids.shape[1]])
        return self.head(self.blocks(x).mean(dim=1))


def build(spec: ModelSpec, meta: dict, weights: Weights):
    """(stock model holding `weights`, `to_input(x)`: crosstrain's arrays in the layout the model takes)."""
    if isinstance(spec, CNNSpec):
        return cnn(spec, meta, weights), lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    model = {BiLSTMSpec: BiLSTM, TransformerSpec: Transformer}.get(type(spec), MLP)(spec, meta, weights)
    return model, lambda x: x


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Inference-mode logits of the stock model for input already in its layout."""
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()
