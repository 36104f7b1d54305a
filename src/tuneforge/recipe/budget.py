"""How long a recipe trains when ``train.epochs`` is ``auto`` (the default).

A budget counted in epochs gives small data almost no training: 20 epochs of iris (90 training
rows, batches of 64) are 40 optimizer steps, and the model is still far from fitted. scikit-learn's
MLPs count up to 200 epochs and stop when the loss stops improving. Our rule, one for ``train``,
``cv``, the estimators and every trial of a study:

    epochs = clamp(ceil(min_steps / steps_per_epoch), 20, 200)      (min_steps: 300 by default)

(with ``max_steps``, ``auto`` is the epochs those steps take: ceil(max_steps / steps_per_epoch)),
so data sets with 17 or more steps an epoch (digits: 1077 rows in batches of 64, the default
study) keep 20 epochs, and smaller ones train for at least ``min_steps`` steps, at most 200
epochs. The resolved number is written into the run's config.yaml.
"""

from __future__ import annotations

import math

from tuneforge.config.schema import TrainConfig

AUTO_EPOCHS = (20, 200)  # the least and the most epochs `auto` gives


def steps_per_epoch(n_rows: int, cfg: TrainConfig) -> int:
    """Optimizer steps one epoch of ``n_rows`` training rows takes (after accumulation)."""
    batch = n_rows if cfg.batch_size == "full" else min(cfg.batch_size, max(n_rows, 1))
    batches = -(-n_rows // max(batch, 1))
    return max(1, -(-batches // cfg.accumulate))


def epochs_for(cfg: TrainConfig, n_rows: int) -> int:
    """``cfg.epochs``, or what ``auto`` gives for ``n_rows`` training rows."""
    if cfg.epochs != "auto":
        return cfg.epochs
    if cfg.max_steps is not None:  # a step budget: the epochs it takes, the last one cut short
        return math.ceil(cfg.max_steps / steps_per_epoch(n_rows, cfg))
    least, most = AUTO_EPOCHS
    return min(max(least, math.ceil(cfg.min_steps / steps_per_epoch(n_rows, cfg))), most)


def with_epochs(cfg: TrainConfig, n_rows: int) -> TrainConfig:
    """``cfg`` with its epochs resolved for ``n_rows`` training rows (itself when they are)."""
    if cfg.epochs != "auto":
        return cfg
    return cfg.model_copy(update={"epochs": epochs_for(cfg, n_rows)})


def with_budget(config, data):
    """A whole recipe (``Config``) with ``train.epochs`` resolved for ``data``'s training rows."""
    train = with_epochs(config.train, data.size("train"))
    return config if train is config.train else config.model_copy(update={"train": train})
