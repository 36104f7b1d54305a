"""Helpers for the tuning tests: a tiny recipe (iris, a one-layer MLP, a few epochs) and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import yaml

TINY = {
    "data": {"source": "iris"},
    "model": {"kind": "mlp", "hidden": [16]},
    "train": {"optimizer": {"name": "adam", "lr": 0.01}, "epochs": 4, "batch_size": 32},
    "tune": {"trials": 4, "storage": None, "seed": 0},
}
TINY_SPACE = {
    "train.optimizer.lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
    "model.hidden": {"choices": [[8], [16, 8]]},
}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def tiny(**tune) -> dict:
    """A fresh copy of the tiny recipe with ``tune`` keys replaced."""
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["tune"].update(tune)
    return data


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli(*args: str, timeout: float = 300, width: int = 250) -> subprocess.CompletedProcess:
    """Run ``python -m tuneforge ARGS`` (inherited environment; tables ``width`` wide)."""
    return subprocess.run([sys.executable, "-m", "tuneforge", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": str(width)})  # fmt: skip


def cli_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuneforge", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def states(study) -> dict[str, int]:
    """How many trials of an Optuna study are in each state."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
