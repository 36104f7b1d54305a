"""`tune.cohort: K`: trials train as cohorts and the study behaves as with one at a time."""

from __future__ import annotations

import math

import optuna
from tune_helpers import TINY_SPACE, tiny

import tuneforge
from tuneforge.config import validate


def test_a_cohort_study_finishes_n_trials_and_best_yaml_reproduces_the_best_member(tmp_path):
    data = tiny(space=TINY_SPACE, trials=6, cohort=3, pruner="none")
    data["train"]["epochs"] = 6
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"))
    trials = study.optuna.get_trials(deepcopy=False)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 6
    best = tuneforge.train(tuneforge.load_config(tmp_path / "out" / "best.yaml"))
    assert math.isclose(best.summary["metrics"]["val/accuracy"], study.best_value, rel_tol=1e-9)


def test_members_are_pruned_one_by_one_in_a_cohort(tmp_path):
    space = {**TINY_SPACE, "train.optimizer.lr": {"low": 1.0e-6, "high": 1.0, "log": True}}
    data = tiny(space=space, trials=12, cohort=6, pruner="median")
    data["train"]["epochs"] = 8
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"))
    states = [t.state for t in study.optuna.get_trials(deepcopy=False)]
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    assert states.count(optuna.trial.TrialState.COMPLETE) + pruned == 12 and pruned >= 1


def test_cohort_defaults_to_16_where_cohorts_apply_and_to_1_elsewhere():
    from tuneforge.config.tune_schema import DEFAULT_COHORT
    from tuneforge.tuning.plan import make_plan
    from tuneforge.tuning.runner import Runner, open_study
    from tuneforge.tuning.storage import open_storage

    mlp = make_plan(tiny(storage=None))
    assert mlp.tune.cohort == DEFAULT_COHORT == 16 and not mlp.notes
    runner = Runner(mlp, open_study(mlp, open_storage(None, 10)))
    assert type(runner.executor).__name__ == "CohortExecutor" and runner.batch_size == 16
    cnn = tiny(storage=None)
    cnn["data"], cnn["model"] = {"source": "digits"}, {"kind": "cnn", "channels": [4], "head": 8}
    plan = make_plan(cnn)
    assert plan.tune.cohort == 1 and not plan.notes  # no note: nobody asked for a cohort
    explicit = make_plan(tiny(storage=None, cohort=1))
    assert explicit.tune.cohort == 1


def test_refill_starts_new_trials_while_earlier_ones_still_train(tmp_path):
    """tune.refill: a trial that is pruned frees its place for a new one at the next epoch, so
    later trials start before the first cohort's last member ends; the study still finishes
    exactly N trials and best.yaml reproduces the best member."""
    space = {**TINY_SPACE, "train.optimizer.lr": {"low": 1.0e-5, "high": 1.0, "log": True}}
    data = tiny(space=space, trials=12, cohort=4, pruner="asha", refill=True)
    data["train"]["epochs"] = 9
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"))
    trials = study.optuna.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                 optuna.trial.TrialState.PRUNED)]  # fmt: skip
    assert len(finished) == len(trials) == 12
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    first_round_ends = max(t.datetime_complete for t in trials[:4])
    assert trials[4].datetime_start < first_round_ends  # batches would wait for all four
    best = tuneforge.train(tuneforge.load_config(tmp_path / "out" / "best.yaml"))
    assert math.isclose(best.summary["metrics"]["val/accuracy"], study.best_value, rel_tol=1e-9)


def test_refill_trains_what_cohorts_cannot_batch_alone(tmp_path):
    space = {**TINY_SPACE, "train.precision": {"choices": ["fp32", "bf16"]}}
    data = tiny(space=space, trials=6, cohort=3, pruner="none", refill=True)
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"))
    trials = study.optuna.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert {t.params["train.precision"] for t in trials} == {"fp32", "bf16"}
    for trial in trials:  # each says how it trained, and why alone
        bf16 = trial.params["train.precision"] == "bf16"
        assert trial.user_attrs["tuneforge:engine"] == ("alone" if bf16 else "cohort")
        assert ("bf16 is not batched" in trial.user_attrs.get("tuneforge:fallback", "")) == bf16


def test_refill_is_noted_and_ignored_where_it_cannot_apply():
    from tuneforge.tuning.plan import make_plan

    plan = make_plan(tiny(storage=None, cohort=1, refill=True))
    assert any("tune.refill" in note for note in plan.notes)
