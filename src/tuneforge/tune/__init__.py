"""Hyperparameter tuning with Optuna: search space, samplers and pruners, storage, workers.

``tuneforge.tune(cfg, trials=64)`` returns a :class:`Study` (``.best_config``, ``.best_value``,
``.trials_dataframe()``). docs/tuning.md describes the ``tune`` section of a config.
"""

from __future__ import annotations

from tuneforge.tune.api import tune
from tuneforge.tune.result import Study

__all__ = ["Study", "tune"]
