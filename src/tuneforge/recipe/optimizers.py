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


#: Optimizers torch has a fused kernel for (``fused=True``: one pass per parameter instead of
#: a loop of elementwise ops). On a CPU that is ~25% of a small model's whole fit (iris and
#: digits with the estimators' defaults, one thread: 0.30 -> 0.23 s and 0.62 -> 0.46 s), the
#: same arithmetic as the loop up to float rounding. For Adam and AdamW it is also the kernel the
#: cohort engine steps each member with on a CPU, so a lone run and its cohort member share it.
FUSED = frozenset({"sgd", "adam", "adamw", "adagrad"})


def make_optimizer(cfg, params: Iterable) -> torch.optim.Optimizer:
    """``cfg``'s torch.optim optimizer over ``params`` (tensors or param groups), fused where
    torch has the kernel and every parameter is a floating-point tensor on a CPU or CUDA device
    (torch checks that only at the first step, and refuses there)."""
    kwargs = optimizer_kwargs(cfg)
    params = [_group(p) if isinstance(p, dict) else p for p in params]
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    if cfg.name in FUSED and all(_fusable(t) for t in tensors):
        kwargs["fused"] = True
    optimizer = OPTIMIZERS[cfg.name](params, **kwargs)
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])  # schedules scale from here
    return optimizer


def _group(group: dict) -> dict:
    """A param group whose ``params`` is a list (torch.optim takes a tensor or any iterable)."""
    params = group["params"]
    return {**group, "params": [params] if isinstance(params, torch.Tensor) else list(params)}


def _fusable(tensor: torch.Tensor) -> bool:
    return torch.is_floating_point(tensor) and tensor.device.type in ("cpu", "cuda")
