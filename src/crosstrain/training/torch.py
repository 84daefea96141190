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
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate, betas=(0.9, 0.999), eps=ADAM_EPSILON)
    return torch.optim.SGD(params, lr=cfg.learning_rate, momentum=cfg.momentum)


class TrainStep:
    """An eager `step(x, y) -> loss`: one optimiser update on a numpy mini-batch."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, example: np.ndarray) -> None:
        self.model = model
        self.optimizer = make_optimizer(model, cfg)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.clip_norm = cfg.clip_norm

    def __call__(self, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        if self.clip_norm:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        return loss.detach()

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr


def make_train_step(model: nn.Module, cfg: TrainConfig, example: np.ndarray) -> TrainStep:
    """The train step for `model` (`example` is unused: eager PyTorch needs no signature)."""
    return TrainStep(model, cfg, example)
