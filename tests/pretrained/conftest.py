"""Shared pieces: digits split into a pre-training file and a small target file, a source run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pretrained_helpers import FAST_TRAIN, QUIET
from sklearn.datasets import load_digits

import tuneforge
from tuneforge import Config


@pytest.fixture(scope="session")
def digits_files(tmp_path_factory) -> tuple[Path, Path]:
    """1300 digits rows to pre-train on, and the other 497 rows as a target file."""
    folder = tmp_path_factory.mktemp("digits")
    frame = load_digits(as_frame=True).frame
    order = np.random.default_rng(0).permutation(len(frame))
    pre, target = folder / "pre.csv", folder / "target.csv"
    frame.iloc[order[:1300]].to_csv(pre, index=False)
    frame.iloc[order[1300:]].to_csv(target, index=False)
    return pre, target


@pytest.fixture(scope="session")
def source_run(digits_files, tmp_path_factory) -> Path:
    """A finished run: a [64, 32] MLP trained on the 1300 pre-training rows."""
    out = tmp_path_factory.mktemp("source") / "run"
    cfg = Config(data={"source": str(digits_files[0]), "target": "target",
                       "split": {"val": 0.1, "test": 0.0}},
                 model={"kind": "mlp", "hidden": [64, 32], "dropout": 0.1},
                 train={**FAST_TRAIN, "epochs": 20}, **QUIET)  # fmt: skip
    tuneforge.train(cfg, out=out)
    return out
