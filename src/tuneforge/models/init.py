"""Weight initialization by name: ``default`` (torch's), ``xavier`` (Glorot) and ``he`` (Kaiming)."""

from __future__ import annotations

from torch import nn

# torch.nn.init.calculate_gain has no entry for GELU; its slope at large inputs is ReLU's.
_GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid",
              "gelu": "relu", "linear": "linear"}  # fmt: skip


def init_linear(layer: nn.Linear, scheme: str, activation: str = "linear") -> None:
    """Initialize one layer for the activation that follows it; biases start at zero."""
    if scheme == "default":
        return
    gain_name = _GAIN_NAME[activation]
    if scheme == "xavier":
        nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(gain_name))
    elif scheme == "he":
        nonlinearity = gain_name if gain_name in ("relu", "leaky_relu") else "linear"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
    else:
        raise ValueError(f"unknown init scheme {scheme!r}")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
