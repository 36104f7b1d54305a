"""Samplers by name (``tune.sampler``): Optuna's, and a grid sampler for ask-and-tell."""

from __future__ import annotations

import math
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from tuneforge._compat import grid_point
from tuneforge.config.tune_schema import SAMPLER_NAMES


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus ``study.stop()`` when the grid is done: that only works inside
    ``study.optimize``; our runner asks :meth:`is_exhausted` before each trial instead, and
    :meth:`unstarted` while it asks a cohort's trials (past that, the grid hands out repeats)."""

    def __init__(self, search_space, seed: int | None = None):
        super().__init__(search_space, seed=seed)
        self.size = math.prod(len(values) for values in search_space.values())

    def after_trial(self, study, trial, state, values) -> None:
        return None

    def unstarted(self, study: optuna.Study) -> int:
        """Grid points no trial has taken yet (running or finished)."""
        taken = {grid_point(t) for t in study.get_trials(deepcopy=False) if t.state != TrialState.FAIL}
        return self.size - len(taken - {None})


SamplerFactory = Callable[[int | None, dict], optuna.samplers.BaseSampler]

#: name -> (factory(seed, grid), optimizes several objectives?)
SAMPLERS: dict[str, tuple[SamplerFactory, bool]] = {
    "grid": (lambda seed, grid: AskTellGridSampler(grid, seed=seed), True),
    "random": (lambda seed, grid: optuna.samplers.RandomSampler(seed=seed), True),
    # multivariate TPE models the parameters jointly; group=True keeps it valid when `when`
    # makes the space conditional; constant_liar spreads parallel workers apart.
    "tpe": (lambda seed, grid: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True, constant_liar=True), True),  # fmt: skip
    "cmaes": (lambda seed, grid: optuna.samplers.CmaEsSampler(
        seed=seed, warn_independent_sampling=False), False),  # fmt: skip
    "gp": (lambda seed, grid: optuna.samplers.GPSampler(
        seed=seed, warn_independent_sampling=False), True),  # fmt: skip
    "qmc": (lambda seed, grid: optuna.samplers.QMCSampler(
        seed=seed, warn_independent_sampling=False), True),  # fmt: skip
    "nsga2": (lambda seed, grid: optuna.samplers.NSGAIISampler(seed=seed), True),
}

assert set(SAMPLERS) == set(SAMPLER_NAMES)
