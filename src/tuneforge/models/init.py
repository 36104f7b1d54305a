"""Weight initialization by name: ``default`` (torch's), ``xavier`` (Glorot), ``he`` (Kaiming),
``zeros`` and ``normal`` (N(0, std²)).

Every scheme but ``default`` starts the biases at zero. ``zeros`` is the closed-form start of
the guide's gradient-descent programs: a linear model from zeros follows the same path as a
NumPy transcription. In a network with hidden layers it leaves every unit of a layer equal
(and, with relu, without gradient): it is meant for linear and logistic models.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

# torch.nn.init.calculate_gain has no entry for GELU; its slope at large inputs is ReLU's.
_GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid",
              "gelu": "relu", "linear": "linear"}  # fmt: skip


def _xavier(weight, gain_name: str, std: float) -> None:
    nn.init.xavier_uniform_(weight, gain=nn.init.calculate_gain(gain_name))


def _he(weight, gain_name: str, std: float) -> None:
    nonlinearity = gain_name if gain_name in ("relu", "leaky_relu") else "linear"
    nn.init.kaiming_normal_(weight, nonlinearity=nonlinearity)


def _zeros(weight, gain_name: str, std: float) -> None:
    nn.init.zeros_(weight)


def _normal(weight, gain_name: str, std: float) -> None:
    nn.init.normal_(weight, mean=0.0, std=std)


#: scheme -> ``(weight, gain name, std) -> None``, in place (``default`` keeps torch's own).
SCHEMES: dict[str, Callable[..., None]] = {
    "xavier": _xavier,
    "he": _he,
    "zeros": _zeros,
    "normal": _normal,
}


def init_linear(layer: nn.Module, scheme: str, activation: str = "linear", std: float = 1.0) -> None:
    """Initialize one layer for the activation that follows it; biases start at zero.

    ``std`` is the standard deviation of ``normal`` (other schemes ignore it).
    """
    if scheme == "default":
        return
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}")
    SCHEMES[scheme](layer.weight, _GAIN_NAME[activation], std)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
