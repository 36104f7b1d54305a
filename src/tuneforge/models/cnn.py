"""A small 2-D convolutional classifier/regressor for ``[C, H, W]`` images."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from tuneforge.config.arch_schema import CNNModel
from tuneforge.errors import ConfigError
from tuneforge.models.init import init_linear
from tuneforge.models.mlp import ACTIVATIONS

POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def image_shape(n_in: int | Sequence[int], kind: str) -> tuple[int, int, int]:
    """The ``[C, H, W]`` a model of ``kind`` gets, or a one-line error naming data.shape."""
    if isinstance(n_in, int) or len(n_in) != 3:
        got = f"{n_in} features per row" if isinstance(n_in, int) else f"rows of shape {list(n_in)}"
        raise ConfigError(f"model.kind: {kind} needs image data ([C, H, W] rows; data.shape: "
                          f"image), got {got}")  # fmt: skip
    channels, height, width = (int(v) for v in n_in)
    return channels, height, width


def build_cnn(cfg: CNNModel, n_in: int | Sequence[int], n_out: int) -> nn.Sequential:
    """Per entry of ``channels``: ``conv -> [batch norm] -> activation -> [2x2 pool]``; then
    ``flatten -> [dropout] -> [linear(head) -> activation -> dropout] -> linear``.

    Convolutions keep the size (padding ``kernel_size // 2``); a pool halves it while both sides
    are at least 2 pixels, so 8x8 digits and larger folder images both work.
    """
    channels, height, width = image_shape(n_in, "cnn")
    layers: list[nn.Module] = []
    for out in cfg.channels:
        conv = nn.Conv2d(channels, out, cfg.kernel_size, padding=cfg.kernel_size // 2,
                         bias=not cfg.batch_norm)  # fmt: skip  (batch norm has its own shift)
        init_linear(conv, cfg.init, cfg.activation)
        layers.append(conv)
        if cfg.batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(ACTIVATIONS[cfg.activation]())
        if cfg.pool is not None and min(height, width) >= 2:
            layers.append(POOLS[cfg.pool](2))
            height, width = height // 2, width // 2
        channels = out
    layers.append(nn.Flatten())
    width = channels * height * width
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
    if cfg.head:
        hidden = nn.Linear(width, cfg.head)
        init_linear(hidden, cfg.init, cfg.activation)
        layers += [hidden, ACTIVATIONS[cfg.activation]()]
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        width = cfg.head
    head = nn.Linear(width, n_out)
    init_linear(head, cfg.init)
    layers.append(head)
    return nn.Sequential(*layers)
