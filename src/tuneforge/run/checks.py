"""A recipe checked against its data before any training starts.

``recipe.checks`` does what the recipe layer can judge alone; the names in ``train.metrics``
are scikit-learn scorers or user functions, which only the evaluation layer knows, and the run
layer is the first that may ask both.
"""

from __future__ import annotations

from tuneforge.config import Config
from tuneforge.data import Dataset
from tuneforge.recipe.checks import check_against_data


def check_recipe(cfg: Config, data: Dataset) -> None:
    """Raise one ConfigError line for what ``cfg`` cannot do with ``data``."""
    check_against_data(cfg, data)
    if cfg.train.metrics:
        from tuneforge.evaluate.scorers import check_metrics  # scikit-learn's scorer registry

        check_metrics(cfg.train.metrics)
