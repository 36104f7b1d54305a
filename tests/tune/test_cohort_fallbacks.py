"""Cohorts are used where they apply, and every trial that trains alone instead says why.

A trial the cohort executor trains with the module engine gets ``tuneforge:engine = alone`` and
``tuneforge:fallback = <reason>``, the study's log gets one warning per reason, and the study
report lists the reasons; a trial trained in a cohort gets ``tuneforge:engine = cohort``.
"""

from __future__ import annotations

import optuna
from tune_helpers import TINY_SPACE, tiny

import tuneforge
import tuneforge.run.cohort
from tuneforge.config import validate
from tuneforge.report.html import write_study_report

COMPLETE = optuna.trial.TrialState.COMPLETE


def spy_cohorts(monkeypatch) -> list[list]:
    """Record the configs of every cohort ``train_cohort`` trains."""
    cohorts, real = [], tuneforge.run.cohort.train_cohort

    def spy(configs, *args, **kwargs):
        cohorts.append(list(configs))
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(tuneforge.run.cohort, "train_cohort", spy)
    return cohorts


def test_the_default_study_trains_its_trials_in_cohorts(monkeypatch):
    """The default digits space (batch sizes 32/64, relu/gelu, widths 128-512), shortened to
    16 trials x 2 epochs: every trial trains in a cohort of several members, and batch sizes
    32 and 64 share cohorts."""
    cohorts, messages = spy_cohorts(monkeypatch), []
    study = tuneforge.tune(overrides=["train.epochs=2"], trials=16, storage=None,
                           pruner="none", log=messages.append)  # fmt: skip
    trials = study.optuna.get_trials(deepcopy=False)
    assert [t.user_attrs.get("tuneforge:engine") for t in trials] == ["cohort"] * 16
    assert not any("tuneforge:fallback" in t.user_attrs for t in trials)
    assert sum(len(c) for c in cohorts) == 16 and all(len(c) >= 2 for c in cohorts)
    assert any({cfg.train.batch_size for cfg in c} == {32, 64} for c in cohorts)
    assert not [m for m in messages if "alone" in m]


def test_a_failing_cohort_is_retrained_alone_with_one_warning_and_the_reason_kept(monkeypatch, tmp_path):
    def broken(configs, *args, **kwargs):
        raise RuntimeError("simulated cohort failure")

    monkeypatch.setattr(tuneforge.run.cohort, "train_cohort", broken)
    messages: list[str] = []
    space = {"train.optimizer.lr": TINY_SPACE["train.optimizer.lr"]}  # one structure: cohorts of 3
    data = tiny(space=space, trials=6, cohort=3, pruner="none")
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"), log=messages.append)
    trials = study.optuna.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [COMPLETE] * 6  # a failed cohort costs no trial
    assert {t.user_attrs["tuneforge:engine"] for t in trials} == {"alone"}
    reasons = {t.user_attrs["tuneforge:fallback"] for t in trials}
    assert len(reasons) == 1 and "simulated cohort failure" in reasons.pop()
    warned = [m for m in messages if "simulated cohort failure" in m]
    assert len(warned) == 1  # two cohorts failed for one reason: one warning
    html = write_study_report(study.optuna, tmp_path / "report").read_text()
    assert "6 alone because their cohort failed" in html and "0 trials trained in cohorts" in html


def test_a_recipe_the_cohort_cannot_batch_says_why_it_trained_alone(tmp_path):
    space = {**TINY_SPACE, "train.precision": {"choices": ["fp32", "bf16"]}}
    messages: list[str] = []
    data = tiny(space=space, trials=8, cohort=8, pruner="none")
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"), log=messages.append)
    trials = study.optuna.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [COMPLETE] * 8
    for trial in trials:
        if trial.params["train.precision"] == "bf16":
            assert trial.user_attrs["tuneforge:engine"] == "alone"
            assert "train.precision bf16 is not batched" in trial.user_attrs["tuneforge:fallback"]
    assert any(t.params["train.precision"] == "bf16" for t in trials)
    assert len([m for m in messages if "train.precision bf16 is not batched" in m]) == 1
