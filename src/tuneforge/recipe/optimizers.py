"""Optimizers by name; torch.optim is the implementation (and the reference the cohort matches)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def optimizer_kwargs(cfg) -> dict[str, Any]:
    """The config's hyperparameters as torch.optim keyword arguments."""
    kwargs = cfg.model_dump(exclude={"name"})
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def make_optimizer(cfg, params: Iterable) -> torch.optim.Optimizer:
    optimizer = OPTIMIZERS[cfg.name](params, **optimizer_kwargs(cfg))
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])  # schedules scale from here
    return optimizer
