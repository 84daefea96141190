"""PyTorch's train step: a plain eager update, as in pytorch/examples' mnist/main.py.

Mirrors `crosstrain.training.tf`. (A module named `torch.py` is safe under absolute imports.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from crosstrain.config import TrainConfig
from crosstrain.training.optim import ADAM_EPSILON


def configure(threads: int, seed: int) -> None:
    """Pin thread pools and seed PyTorch, the same counts TensorFlow gets."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # already fixed for this process (it can be set once, before any parallel work)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser with every hyperparameter set explicitly (defaults differ by framework)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.999), eps=ADAM_EPSILON)
    return torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum)


def make_train_step(model: nn.Module, cfg: TrainConfig, example: np.ndarray):
    """An eager `step(x, y) -> loss` doing one optimiser update on a numpy mini-batch."""
    optimizer = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step
