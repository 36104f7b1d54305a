"""Every sampler and pruner of the registries runs a small study (contract tests)."""

from __future__ import annotations

import optuna
import pytest
from tune_helpers import FINISHED, TINY_SPACE, states, tiny

import tuneforge
from tuneforge.config.tune_schema import PRUNER_NAMES, SAMPLER_NAMES
from tuneforge.tuning.pruners import PRUNERS
from tuneforge.tuning.samplers import SAMPLERS

NUMERIC_SPACE = {  # CMA-ES and GP model numbers; categorical keys fall back to random sampling
    "train.optimizer.lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
    "model.dropout": {"low": 0.0, "high": 0.3},
}
BAD_LR = 1.0e-6  # Adam barely moves: chance accuracy after every epoch
GOOD_LR = 3.0e-2


def test_registries_match_the_schema():
    assert set(SAMPLERS) == set(SAMPLER_NAMES)
    assert set(PRUNERS) == set(PRUNER_NAMES)


@pytest.mark.parametrize("sampler", [s for s in SAMPLER_NAMES if s != "grid"])
def test_sampler_runs_a_seeded_reproducible_study(sampler):
    space = NUMERIC_SPACE if sampler in ("cmaes", "gp") else TINY_SPACE
    trials = 12 if sampler == "gp" else 6  # GP models the space after 10 random trials
    runs = [tuneforge.tune(tiny(trials=trials, sampler=sampler, space=space, seed=3)) for _ in range(2)]
    first, second = ([t.params for t in r.optuna.trials] for r in runs)
    assert sum(states(runs[0].optuna).get(s.name, 0) for s in FINISHED) == trials
    assert first == second  # the same seed proposes the same trials
    for params in first:
        assert 1e-3 <= params["train.optimizer.lr"] <= 1e-1


def test_grid_visits_every_point_once_and_stops():
    space = {"model.hidden": [[8], [16]], "train.epochs": {"low": 1, "high": 3, "step": 2}}
    study = tuneforge.tune(tiny(trials=10, sampler="grid", pruner="none", space=space))
    points = [(t.params["model.hidden"], t.params["train.epochs"]) for t in study.optuna.trials]
    assert sorted(points) == [("[16]", 1), ("[16]", 3), ("[8]", 1), ("[8]", 3)]


@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_multi_objective_samplers(sampler):
    study = tuneforge.tune(tiny(trials=6, sampler=sampler, space=TINY_SPACE, objective=["val/accuracy", "params"]))
    assert study.optuna.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert states(study.optuna) == {"COMPLETE": 6}


@pytest.mark.parametrize("pruner", PRUNER_NAMES)
def test_pruner_stops_trials_with_a_bad_learning_rate(pruner):
    raw = tiny(trials=16, sampler="random", pruner=pruner, space={"train.optimizer.lr": [BAD_LR, GOOD_LR]})
    if pruner == "median":  # it waits for 5 *completed* trials: none exist inside one cohort of 16
        raw["tune"]["cohort"] = 1
    raw["train"]["epochs"] = 9  # successive-halving rungs at epochs 1, 3 and 9
    study = tuneforge.tune(raw).optuna
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert sum(states(study).get(s.name, 0) for s in FINISHED) == 16
    assert all(t.params["train.optimizer.lr"] == BAD_LR for t in pruned)
    if pruner == "none":
        assert not pruned
    else:
        assert len(pruned) >= 3, f"{pruner} pruned {len(pruned)} trials"
        assert all(t.user_attrs["reason"].startswith("pruned at step") for t in pruned)
    if pruner == "asha":  # every bad trial fails the first rung: it stops after one epoch
        bad = [t for t in study.trials if t.params["train.optimizer.lr"] == BAD_LR]
        assert all(t.state == optuna.trial.TrialState.PRUNED and t.last_step == 1 for t in bad[1:])
