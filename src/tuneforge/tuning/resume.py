"""What may change when a study is resumed (docs/tuning.md, "Resuming a study").

Running ``tuneforge tune`` again on an existing study continues it. Some of the recipe may
change in between, some may not: the objectives and their directions define what the stored
values mean, and Optuna cannot sample one key from two kinds of distribution in one study
(``Cannot set different distribution kind``, raised only once a trial is already RUNNING). So
both are checked here, after the study is loaded and before any trial is asked; a refusal is
exit code 2 and leaves the storage as it was. Accepted changes (ranges, added or removed keys,
sampler, sampler seed, pruner, trial count) are documented in docs/tuning.md.
"""

from __future__ import annotations

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    check_distribution_compatibility,
)

from tuneforge.errors import ConfigError
from tuneforge.tuning.space import SearchSpace

NEW_STUDY_HINT = "start a new study with --study NAME (tune.study), or restore the old setting"


def check_objectives(study: optuna.Study, stored: list[str], metrics: list[str], directions: list[str]) -> None:
    """A resumed study keeps its objectives and directions: the stored values mean them."""
    before = [d.name.lower() for d in study.directions]
    if stored == metrics and before == directions:
        return
    raise ConfigError(f"tune.objective: study {study.study_name!r} was created for "
                      f"{_objectives(stored, before)}, not {_objectives(metrics, directions)}; "
                      f"{NEW_STUDY_HINT}")  # fmt: skip


def check_space(study: optuna.Study, space: SearchSpace) -> None:
    """Every tuned key that stored trials sampled must keep a distribution Optuna accepts."""
    checked: set[tuple[str, BaseDistribution]] = set()
    for trial in study.get_trials(deepcopy=False):
        for key, old in trial.distributions.items():
            if key not in space.params or (key, old) in checked:
                continue
            checked.add((key, old))
            new = space.params[key].distribution()
            try:
                check_distribution_compatibility(old, new)
            except ValueError:
                raise ConfigError(f"tune.space.{key}: study {study.study_name!r} sampled it as "
                                  f"{describe(old)}, now {describe(new)}; Optuna cannot mix "
                                  f"them in one study: {NEW_STUDY_HINT}") from None  # fmt: skip


def describe(distribution: BaseDistribution) -> str:
    """``choices [relu, tanh]``, ``float 0.001..0.1 (log)``, ``int 1..8 step 2``."""
    if isinstance(distribution, CategoricalDistribution):
        return f"choices [{', '.join(map(str, distribution.choices))}]"
    kind = type(distribution).__name__.removesuffix("Distribution").lower()
    text = f"{kind} {distribution.low:g}..{distribution.high:g}"
    if distribution.log:
        text += " (log)"
    if distribution.step not in (None, 1):
        text += f" step {distribution.step:g}"
    return text


def _objectives(metrics: list[str], directions: list[str]) -> str:
    return ", ".join(f"{m} ({d})" for m, d in zip(metrics, directions, strict=False))
