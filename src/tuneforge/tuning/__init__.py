"""Hyperparameter tuning with Optuna: search space, samplers and pruners, storage, workers.

``tuneforge.tune(cfg, trials=64)`` returns a :class:`Study` (``.best_config``, ``.best_value``,
``.trials_dataframe()``). docs/tuning.md describes the ``tune`` section of a config.

The package is ``tuning``, not ``tune``: importing a subpackage sets it as an attribute of its
parent, so a ``tuneforge/tune/`` package would replace the function ``tuneforge.tune`` with a
module as soon as anything imported ``tuneforge.tune.<x>``.
"""

from __future__ import annotations

from tuneforge.tuning.api import tune
from tuneforge.tuning.result import Study

__all__ = ["Study", "tune"]
