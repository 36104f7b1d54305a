"""tuneforge: train PyTorch models from a recipe and tune their hyperparameters.

Example:
    >>> import tuneforge
    >>> cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=2"])
    >>> run = tuneforge.train(cfg)
    >>> run.summary["status"]
    'completed'
"""

from __future__ import annotations

from tuneforge.config import Config, load_config
from tuneforge.errors import ConfigError, DataError, TuneforgeError
from tuneforge.evaluate.cv import cross_validate as cv
from tuneforge.run import Run, load_run, train
from tuneforge.tuning import Study, tune

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
    "train",
    "tune",
]
__version__ = "0.1.0"
