"""Linear, logistic and multi-layer perceptron models for tabular features."""

from __future__ import annotations

from torch import nn

from tuneforge.config.schema import LinearModel, LogisticModel, MLPModel
from tuneforge.models.init import init_linear

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
NORMS: dict[str, type[nn.Module]] = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def build_linear(cfg: LinearModel | LogisticModel, n_in: int, n_out: int) -> nn.Module:
    """One affine map. ``logistic`` is the same map; its loss makes it a logistic regression."""
    layer = nn.Linear(n_in, n_out, bias=cfg.bias)
    init_linear(layer, cfg.init, std=cfg.init_std)
    return layer


def build_mlp(cfg: MLPModel, n_in: int, n_out: int) -> nn.Sequential:
    """``Linear -> [norm] -> activation -> [dropout]`` per hidden width, then a linear head."""
    layers: list[nn.Module] = []
    width = n_in
    for hidden in cfg.hidden:
        linear = nn.Linear(width, hidden)
        init_linear(linear, cfg.init, cfg.activation, cfg.init_std)
        layers.append(linear)
        if cfg.norm is not None:
            layers.append(NORMS[cfg.norm](hidden))
        layers.append(ACTIVATIONS[cfg.activation]())
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        width = hidden
    head = nn.Linear(width, n_out, bias=cfg.bias)  # model.bias: the output layer's only
    init_linear(head, cfg.init, std=cfg.init_std)
    layers.append(head)
    return nn.Sequential(*layers)
