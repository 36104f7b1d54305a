"""Your own model and data for tuneforge (docs/custom.md): a residual MLP and a data function.

tuneforge imports this file by the names in the recipe (``nets:ResidualMLP``, ``nets:digits``)
from the working directory, so run ``tuneforge`` from the folder that holds it.
"""

from __future__ import annotations

from sklearn.datasets import load_digits
from torch import nn


class Block(nn.Module):
    """x + dropout(gelu(linear(layer_norm(x)))): a pre-norm residual block."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return x + self.dropout(nn.functional.gelu(self.linear(self.norm(x))))


class ResidualMLP(nn.Module):
    """tuneforge passes n_inputs (features per row) and n_outputs (classes, or 1 for
    regression); every other argument comes from model.args in the recipe."""

    def __init__(self, n_inputs: int, n_outputs: int, width: int = 128, depth: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*[Block(width, dropout) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


def digits():
    """The rows: (X, y) arrays. A DataFrame with data.target, or a dict of arrays, work too."""
    bunch = load_digits()
    return bunch.data, bunch.target
