"""The user's own code, as text a test writes into its tmp_path (never imported from tests/).

``NETS`` is a small user module: a residual MLP, a CNN for [1, 8, 8] images, data functions in
each return form, a per-sample loss, a metric, and factories that misbehave in each way the
error checks name.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

NETS = '''
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits, load_iris
from torch import nn


class Block(nn.Module):
    def __init__(self, width, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return x + self.drop(nn.functional.gelu(self.fc(self.norm(x))))


class ResidualMLP(nn.Module):
    def __init__(self, n_inputs, n_outputs, width=16, depth=1, dropout=0.0):
        super().__init__()
        self.inp = nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*[Block(width, dropout) for _ in range(depth)])
        self.out = nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x)))


def small_cnn(n_inputs, n_outputs, channels=4):
    c, h, w = n_inputs
    return nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(channels * h * w, n_outputs))


def iris_frame():
    bunch = load_iris(as_frame=True)
    return bunch.frame


def iris_xy():
    bunch = load_iris()
    return bunch.data, bunch.target


def iris_dict():
    bunch = load_iris()
    return {"X": bunch.data, "species": bunch.target}


def digits_images():
    bunch = load_digits()
    return bunch.images, bunch.target


def nll(pred, y):
    return nn.functional.cross_entropy(pred, y, reduction="none")


def mean_nll(pred, y):
    return nn.functional.cross_entropy(pred, y)


def macro_recall(y_true, y_pred):
    from sklearn.metrics import recall_score
    return recall_score(y_true, y_pred, average="macro")


def raises(n_inputs, n_outputs):
    raise ValueError("width must be even")


def not_a_module(n_inputs, n_outputs):
    return [nn.Linear(n_inputs, n_outputs)]


def wrong_outputs(n_inputs, n_outputs):
    return nn.Linear(n_inputs, n_outputs + 1)


def broken_data():
    raise OSError("the database is down")


NOT_CALLABLE = 3
'''


def write_module(folder: Path, text: str = NETS) -> str:
    """Write ``text`` as a uniquely named module in ``folder``; returns its name."""
    name = f"usernets_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(text)
    return name


def forget(name: str) -> None:
    sys.modules.pop(name, None)
