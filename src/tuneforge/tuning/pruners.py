"""Pruners by name (``tune.pruner``), and the epochs at which each may decide."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import optuna

from tuneforge.config.tune_schema import PRUNER_NAMES


@dataclass(frozen=True)
class PrunerSpec:
    """How to build a pruner, and at which steps it may decide (asking costs storage reads)."""

    make: Callable[[int], optuna.pruners.BasePruner]  # max_steps -> pruner
    decides_at: Callable[[int], bool] = lambda step: True


def _rung(step: int) -> bool:
    """Successive halving with min_resource 1 and reduction factor 3 decides at 1, 3, 9, 27..."""
    return step >= 1 and 3 ** round(math.log(step, 3)) == step


PRUNERS: dict[str, PrunerSpec] = {
    "none": PrunerSpec(lambda steps: optuna.pruners.NopPruner(), lambda step: False),
    "median": PrunerSpec(lambda steps: optuna.pruners.MedianPruner(n_startup_trials=5)),
    "asha": PrunerSpec(lambda steps: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3), _rung),  # fmt: skip
    "hyperband": PrunerSpec(lambda steps: optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=max(steps, 3), reduction_factor=3), _rung),  # fmt: skip
}
assert set(PRUNERS) == set(PRUNER_NAMES)
