"""Small Optuna studies made with Optuna alone, for the study-report tests."""

from __future__ import annotations

import math

import optuna

#: the study's starting recipe, as the tuning runner stores it ("tuneforge:base")
STARTING_RECIPE = {"name": None, "model": {"hidden": "[128]"},
                   "train": {"optimizer": {"name": "adam", "lr": 0.001},
                             "regularization": {"l2": 0.0}}}  # fmt: skip


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("train.optimizer.lr", 1e-4, 1e-1, log=True)
    hidden = trial.suggest_categorical("model.hidden", ["[64]", "[128]"])
    l2 = trial.suggest_float("train.regularization.l2", 1e-6, 1e-2, log=True)
    trial.set_user_attr("config", {"name": None, "model": {"hidden": hidden},
                                   "train": {"optimizer": {"name": "adam", "lr": lr},
                                             "regularization": {"l2": l2}}})  # fmt: skip
    value = (math.log10(lr) + 2.5) ** 2 + 0.1 * (hidden == "[64]") + 10 * l2
    if trial.number == 1:
        raise RuntimeError("a failed trial")
    for step in range(6):
        trial.report(value + 1.0 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def make_study(storage, name: str, trials: int = 20) -> optuna.Study:
    """A minimized study whose trials complete, prune (MedianPruner) and fail (trial 1)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3))  # fmt: skip
    study.set_user_attr("tuneforge:objectives", ["val/loss"])
    study.set_user_attr("tuneforge:base", STARTING_RECIPE)
    study.optimize(objective, n_trials=trials, catch=(RuntimeError,))
    return study
