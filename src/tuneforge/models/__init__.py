"""Model registry: ``model.kind`` -> a builder ``(model_cfg, n_in, n_out) -> nn.Module``.

Adding a kind is one entry here, one config class in ``config/schema.py``, and the contract
tests in ``tests/models`` pick it up.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tuneforge.models.cnn import build_cnn
from tuneforge.models.custom import build_custom, check_output
from tuneforge.models.mlp import build_linear, build_mlp
from tuneforge.models.pretrained import build_pretrained
from tuneforge.models.sequence import build_rnn, build_transformer

MODELS: dict[str, Callable[..., nn.Module]] = {
    "linear": build_linear,
    "logistic": build_linear,
    "mlp": build_mlp,
    "cnn": build_cnn,
    "rnn": build_rnn,
    "transformer": build_transformer,
    "pretrained": build_pretrained,  # a tuneforge run or a Hugging Face model (pretrained.py)
    "custom": build_custom,  # the user's factory, module:attribute (custom.py)
}


def build_model(cfg, n_in: int, n_out: int, seed: int | None = None) -> nn.Module:
    """Build ``cfg.kind``; with ``seed``, the initial weights depend on nothing else."""
    if seed is None:
        return MODELS[cfg.kind](cfg, n_in, n_out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[cfg.kind](cfg, n_in, n_out)


def check_model(cfg, model: nn.Module, x: torch.Tensor, n_out: int) -> None:
    """Before the first step: a custom model maps a few rows ``x`` to ``[rows, n_out]``."""
    if cfg.kind == "custom":
        check_output(model, x[:2], n_out, cfg.factory)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
