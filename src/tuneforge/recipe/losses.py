"""Losses by name. Each returns one value per sample, so both engines reduce it the same way.

``pred`` has shape ``[..., n, outputs]`` and ``y`` shape ``[..., n]`` (leading dims are cohort
members); single-output losses read ``pred[..., 0]``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from tuneforge.config.schema import TrainConfig

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared error (yᵢ − ŷᵢ)²; its mean is the MSE."""
    return (pred[..., 0] - y).square()


def mae(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (pred[..., 0] - y).abs()


def huber(pred: torch.Tensor, y: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    return F.huber_loss(pred[..., 0], y.expand_as(pred[..., 0]), reduction="none", delta=delta)


def cross_entropy(pred: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """−Σ pᵢ log qᵢ with q = softmax(pred) and p the (optionally smoothed) one-hot target."""
    target = y.expand(pred.shape[:-1])
    flat = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1),
                           reduction="none", label_smoothing=label_smoothing)  # fmt: skip
    return flat.view(target.shape)


def bce(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−[y log σ(ŷ) + (1 − y) log(1 − σ(ŷ))] on logits (numerically stable form)."""
    logits = pred[..., 0]
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype).expand_as(logits),
                                              reduction="none")  # fmt: skip


LOSSES: dict[str, Loss] = {
    "mse": mse,
    "mae": mae,
    "huber": huber,
    "cross_entropy": cross_entropy,
    "bce": bce,
}


def default_loss(task: str) -> str:
    return "cross_entropy" if task == "classification" else "mse"


def make_loss(cfg: TrainConfig, task: str) -> Loss:
    name = cfg.loss or default_loss(task)
    if name == "huber":
        return partial(huber, delta=cfg.huber_delta)
    if name == "cross_entropy":
        return partial(cross_entropy, label_smoothing=cfg.label_smoothing)
    return LOSSES[name]


def n_outputs(loss: str, n_classes: int | None) -> int:
    """Model outputs a loss needs: one logit per class for cross-entropy, else one."""
    return n_classes if loss == "cross_entropy" else 1
