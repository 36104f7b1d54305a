"""A study survives what goes wrong in its trials: divergence, exceptions, bad combinations, Ctrl-C."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import FINISHED, states, tiny

import tuneforge
import tuneforge.run

SGD = {"name": "sgd", "lr": 0.01}


def finished(study) -> int:
    return sum(states(study).get(s.name, 0) for s in FINISHED)


def test_a_diverging_trial_is_pruned_with_its_reason_and_the_study_goes_on():
    raw = tiny(trials=6, sampler="random", pruner="none", space={"train.optimizer.lr": [1.0e6, 1.0e-2]})
    raw["train"]["optimizer"] = SGD
    study = tuneforge.tune(raw).optuna
    diverged = [t for t in study.trials if t.params["train.optimizer.lr"] == 1.0e6]
    assert diverged, "the seeded sampler should draw the diverging learning rate"
    for trial in diverged:
        assert trial.state == TrialState.PRUNED
        assert trial.user_attrs["status"] == "diverged"
        assert trial.user_attrs["reason"].startswith("diverged: the loss became NaN/Inf at step")
    healthy = [t for t in study.trials if t not in diverged]
    assert healthy and all(t.state == TrialState.COMPLETE for t in healthy)
    assert finished(study) == 6


def test_an_exception_in_one_trial_fails_only_that_trial(monkeypatch):
    real_train = tuneforge.run.train

    def train(cfg, *args, **kwargs):
        if cfg.model.hidden == [13]:
            raise RuntimeError("boom in trial")
        return real_train(cfg, *args, **kwargs)

    monkeypatch.setattr(tuneforge.run, "train", train)
    # cohort 1: the failure is injected into the module engine's tuneforge.run.train
    raw = tiny(trials=5, sampler="random", space={"model.hidden": [[13], [8]]}, cohort=1)
    study = tuneforge.tune(raw).optuna
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["model.hidden"] == "[13]" for t in failed)
    assert all(t.user_attrs["reason"] == "RuntimeError: boom in trial" for t in failed)
    assert finished(study) == 5  # failures do not count: the study still gets 5 finished trials


def test_an_invalid_combination_fails_the_trial_with_the_config_message():
    # nesterov needs momentum > 0: the space allows combinations the schema refuses.
    raw = tiny(trials=4, sampler="random", space={"train.optimizer.nesterov": [True, False],
                                                  "train.optimizer.momentum": [0.0, 0.9]})  # fmt: skip
    raw["train"]["optimizer"] = SGD
    study = tuneforge.tune(raw).optuna
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed
    for trial in failed:
        assert trial.params == {"train.optimizer.nesterov": True, "train.optimizer.momentum": 0.0}
        assert "nesterov needs momentum > 0" in trial.user_attrs["reason"]
    assert finished(study) == 4


def test_a_worker_stops_after_ten_failures_in_a_row(monkeypatch):
    def train(cfg, *args, **kwargs):
        raise ValueError("always")

    monkeypatch.setattr(tuneforge.run, "train", train)
    study = tuneforge.tune(tiny(trials=50, cohort=1))  # trials one at a time, each failing
    assert states(study.optuna) == {"FAIL": 10}
    assert study.best_run is None


def test_ctrl_c_keeps_finished_trials_and_the_study_resumes(monkeypatch):
    real_train = tuneforge.run.train
    calls = []

    def train(cfg, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train(cfg, *args, **kwargs)

    monkeypatch.setattr(tuneforge.run, "train", train)
    raw = tiny(trials=5, storage="sqlite:///studies.db", pruner="none", cohort=1)  # run.train's 3rd call
    study = tuneforge.tune(raw)
    assert study.interrupted
    trials = study.optuna.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    assert trials[-1].user_attrs["reason"] == "interrupted"
    assert (study.folder / "best.yaml").is_file() and study.best_run is None

    again = tuneforge.tune(raw)  # the same study, resumed
    numbers = [t.number for t in again.optuna.trials]
    assert not again.interrupted and len(numbers) == len(set(numbers)) == 6
    assert finished(again.optuna) == 5
    kept = [(t.number, t.params, t.values) for t in trials[:2]]
    assert [(t.number, t.params, t.values) for t in again.optuna.trials[:2]] == kept


def test_a_resumed_study_must_keep_its_objective():
    tuneforge.tune(tiny(trials=1, storage="sqlite:///studies.db", study="s"))
    with pytest.raises(tuneforge.ConfigError, match=r"study 's' was created for val/accuracy \(maximize\), not val/loss"):
        tuneforge.tune(tiny(trials=2, storage="sqlite:///studies.db", study="s", objective="val/loss"))
    assert len(optuna.load_study(study_name="s", storage="sqlite:///studies.db").trials) == 1
