"""What the runner hands an executor (:class:`TrialJob`) and gets back (:class:`TrialOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from tuneforge.config import Config


@dataclass
class TrialJob:
    """An asked trial and the recipe its sampled parameters make."""

    trial: optuna.Trial
    config: Config


@dataclass
class TrialOutcome:
    """How a trial ended: its state, objective values and user attributes."""

    state: TrialState
    values: list[float] | None = None
    attrs: dict = field(default_factory=dict)  # stored as the trial's user attributes
    #: the trial's holdout run (its first seed's), in memory only: the runner keeps the best
    #: one so the study's best run is written without training it again
    run: Any = field(default=None, repr=False)
