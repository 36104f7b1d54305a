"""The ``tune`` section: the search space, the objective, the sampler, pruner and storage.

Kept beside ``schema.py`` (which imports :class:`TuneConfig` for ``Config.tune``) because the
search-space grammar is a small language of its own; docs/tuning.md describes it for users.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from tuneforge.config.names import FolderName

#: Names of the samplers and pruners; ``tuneforge.tuning.samplers`` / ``.pruners`` map each to an Optuna class and a
#: test checks both lists agree, so a new entry cannot be half-registered.
SAMPLER_NAMES = ("grid", "random", "tpe", "cmaes", "gp", "qmc", "nsga2")
PRUNER_NAMES = ("none", "median", "asha", "hyperband")

Number = int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpaceEntry(_Strict):
    """One tuned key: a range (``low``/``high`` with ``log``/``step``) or a list of ``choices``.

    ``when`` makes the entry conditional: ``{train.optimizer.name: sgd}`` samples the key only
    in trials where that other key has that value (a list of values means any of them).
    A bare YAML list is shorthand for ``{choices: [...]}``.
    """

    low: Number | None = Field(None, description="lower end of a range")
    high: Number | None = Field(None, description="upper end of a range")
    log: bool = Field(False, description="sample the range on a log scale")
    step: Number | None = Field(None, description="spacing of the values in the range")
    choices: list[Any] | None = Field(
        None,
        description="the values to choose from (instead of a range)",
    )
    when: dict[str, Any] | None = Field(
        None,
        description="sample only in trials where another key has this value: {dotted key: value or list}",
    )

    @model_validator(mode="before")
    @classmethod
    def _list_means_choices(cls, value: Any) -> Any:
        return {"choices": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _possible(self) -> SpaceEntry:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or low/high (with log/step), not both")
            if not self.choices:
                raise ValueError("choices is empty")
            return self
        if self.low is None or self.high is None:
            raise ValueError("needs low and high, or choices")
        self._check_range(self.low, self.high)
        return self

    def _check_range(self, low: Number, high: Number) -> None:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("low and high must be finite numbers")
        if low > high:
            raise ValueError(f"impossible range: low {low} > high {high}")
        if self.log and low <= 0:
            raise ValueError(f"log: true needs low > 0 (got {low})")
        if self.step is not None:
            if self.step <= 0:
                raise ValueError(f"step must be > 0 (got {self.step})")
            if self.step > high - low and high > low:
                raise ValueError(f"step {self.step} is larger than the range {low}..{high}")
            if self.log and not (self.is_int and self.step == 1):
                raise ValueError("log and step cannot be combined (Optuna samples log ranges "
                                 "continuously); drop one of them")  # fmt: skip

    @property
    def is_int(self) -> bool:
        """Both ends (and the step) are integers: sampled with ``suggest_int``."""
        ends = (self.low, self.high, self.step if self.step is not None else 1)
        return all(isinstance(v, int) and not isinstance(v, bool) for v in ends)


class ObjectiveSpec(_Strict):
    """One objective: a metric of the run summary and, optionally, its direction."""

    metric: str = Field(description="a metric of the run summary, e.g. val/accuracy")
    direction: Literal["maximize", "minimize"] | None = Field(
        None,
        description="maximize or minimize; null: from the metric's name",
    )


#: ``tune.cohort`` when it is not set, for linear/logistic/mlp recipes. Measured on the default
#: digits study (benchmarks/RESULTS.md): 16 trains faster than 1 at an equal or better best
#: score; 64 at once was faster again but scored worse, because TPE proposes every trial of a
#: round before it sees any result, and 16 still gives it 4 rounds to learn from.
DEFAULT_COHORT = 16


class TuneConfig(_Strict):
    """``tuneforge tune`` settings. Every key also works as a keyword of ``tuneforge.tune``."""

    trials: PositiveInt = Field(
        64,
        description="finished (complete or pruned) trials the study should hold",
    )
    objective: list[ObjectiveSpec] | None = Field(
        None,
        description="metric(s) of the run summary to optimize; null: val/accuracy, or val/rmse for regression",
    )
    sampler: Literal[SAMPLER_NAMES] = Field("tpe", description="Optuna sampler")
    pruner: Literal[PRUNER_NAMES] | None = Field(
        None,
        description="Optuna pruner; null: asha for one objective, none for several",
    )
    seed: int | None = Field(0, description="seed of the sampler; null: a fresh one")
    # The default journal file costs the default study a few percent where SQLite doubled it
    # (benchmarks/study_storage.py).
    storage: str | None = Field(
        "journal:///runs/studies.journal",
        description="study storage URL (journal, sqlite, postgresql, grpc); null: in memory, nothing kept",
    )
    study: FolderName | None = Field(
        None,
        description="the study's name, also its folder runs/<study>; null: the config's name, or <data source>-<model kind>",
    )
    cv: Annotated[int, Field(ge=2)] | None = Field(
        None,
        description="score each trial by k-fold cross-validation with this many folds; null: holdout",
    )
    refit: bool = Field(
        False,
        description="retrain the best recipe on train+val and report its test score",
    )
    space: dict[str, SpaceEntry] | None = Field(
        None,
        description="dotted key -> range or choices; null: the default space of the model kind",
    )
    workers: PositiveInt = Field(1, description="local worker processes sharing the study")
    heartbeat: PositiveInt = Field(
        10,
        description="seconds between a running trial's heartbeats (a dead worker's trials are retried)",
    )
    out: str | None = Field(
        None,
        description="folder for best.yaml and the best/refit runs; null: runs/<study>",
    )
    # Members trained at once as one batched model (1: one trial at a time). None (the default):
    # DEFAULT_COHORT for model kinds the cohort engine batches, 1 for the others.
    cohort: PositiveInt | None = Field(
        None,
        description="members trained at once as one batched model (1: one trial at a time); null: 16 for model kinds the cohort engine batches, else 1",
    )
    compile: bool = Field(False, description="torch.compile each cohort's step (tune.cohort > 1)")
    # Rolling cohorts (holdout studies, tune.cohort > 1): new trials join running cohorts as
    # others leave, instead of the next K waiting for the last of these (docs/tuning.md).
    refill: bool = Field(
        False,
        description="rolling cohorts: new trials join running cohorts as others leave (holdout studies)",
    )
    # Training seeds per trial (train.seed + 0..N-1): the trial scores the mean over them. In a
    # cohort each seed is a member, and tune.cohort counts members (trials x seeds).
    seeds: PositiveInt = Field(
        1,
        description="training seeds per trial (train.seed + 0..N-1); the trial scores their mean",
    )

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_list(cls, value: Any) -> Any:
        # `objective: val/accuracy`, `{metric: ..., direction: ...}` or a list of either.
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        return [{"metric": item} if isinstance(item, str) else item for item in items]

    @field_validator("objective")
    @classmethod
    def _objective_not_empty(cls, value: list[ObjectiveSpec] | None) -> list[ObjectiveSpec] | None:
        if value is not None and not value:
            raise ValueError("objective list is empty")
        return value
