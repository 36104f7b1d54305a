"""tuneforge: train PyTorch models from a recipe and tune their hyperparameters.

Example:
    >>> import tuneforge
    >>> cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=2"])
    >>> run = tuneforge.train(cfg)
    >>> run.summary["status"]
    'completed'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tuneforge.config import Config, load_config
from tuneforge.errors import ConfigError, DataError, TuneforgeError

if TYPE_CHECKING:
    from tuneforge.run import Run, load_run, train
    from tuneforge.run.cv import cross_validate as cv
    from tuneforge.run.refine import refine
    from tuneforge.tuning import Study, tune

# Names whose modules import torch, scikit-learn and pandas (seconds): loaded on first use, so
# `tuneforge --help`, `tuneforge init` and config errors answer at once.
_LAZY = {
    "Run": ("tuneforge.run", "Run"),
    "cv": ("tuneforge.run.cv", "cross_validate"),
    "load_run": ("tuneforge.run", "load_run"),
    "refine": ("tuneforge.run.refine", "refine"),
    "train": ("tuneforge.run", "train"),
    "tune": ("tuneforge.tuning", "tune"),
    "Study": ("tuneforge.tuning", "Study"),
}

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Run",
    "Study",
    "TuneforgeError",
    "cv",
    "load_config",
    "load_run",
    "refine",
    "train",
    "tune",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tuneforge' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
