"""SeedMean: what a trial under ``tune.seeds`` reports to its pruner, and when; combine()."""

from __future__ import annotations

import math

import pytest
from optuna.trial import TrialState

from tuneforge.tuning.seeds import SeedMean, combine
from tuneforge.tuning.trials import TrialOutcome


class FakeTrial:
    """Records report() calls; should_prune() is True from ``prune_from`` on."""

    def __init__(self, prune_from: int | None = None):
        self.reports: dict[int, float] = {}
        self.prune_from = prune_from

    def report(self, value: float, step: int) -> None:
        assert step not in self.reports, "a step is reported once"
        self.reports[step] = value

    def should_prune(self) -> bool:
        return self.prune_from is not None and max(self.reports) >= self.prune_from


def rec(epoch: int, acc: float, loss: float = 1.0) -> dict:
    return {"epoch": epoch, "train/loss": loss, "val/accuracy": acc}


def test_seeds_trained_together_report_each_epochs_mean_once_all_gave_it():
    trial = FakeTrial()
    mean = SeedMean(trial, "val/accuracy", lambda step: True, n_seeds=2)
    mean.start(0, 1)
    assert mean.add(0, rec(1, 0.5)) is None and trial.reports == {}
    mean.add(1, rec(1, 0.7))
    assert trial.reports == {1: pytest.approx(0.6)}
    mean.add(0, rec(2, 0.6))
    mean.add(1, rec(2, 0.8))
    mean.add(0, rec(3, 0.9))  # seed 1 early-stopped after epoch 2: epoch 3 waits ...
    assert set(trial.reports) == {1, 2}
    mean.add(0, rec(4, 1.0))  # ... until the next epoch shows it has left
    assert trial.reports[3] == pytest.approx(0.9) and 4 not in trial.reports
    mean.flush()
    assert trial.reports[4] == pytest.approx(1.0)


def test_seeds_trained_one_after_another_report_only_with_the_last():
    trial = FakeTrial()
    mean = SeedMean(trial, "val/accuracy", lambda step: True, n_seeds=2, offset=10)
    mean.start(0)
    for epoch, acc in ((1, 0.2), (2, 0.4)):
        mean.add(0, rec(epoch, acc))
    mean.leave(0)
    assert trial.reports == {}
    mean.start(1)
    mean.add(1, rec(1, 0.6))
    assert trial.reports == {11: pytest.approx(0.4)}  # at once: seed 0 is done
    mean.add(1, rec(2, 0.8))
    assert trial.reports[12] == pytest.approx(0.6)


def test_a_prune_decision_stops_every_seed_of_the_trial():
    trial = FakeTrial(prune_from=2)
    mean = SeedMean(trial, "val/accuracy", lambda step: step >= 2, n_seeds=3)
    mean.start(0, 1, 2)
    assert [mean.add(s, rec(1, 0.5)) for s in range(3)] == [None, None, None]
    assert [mean.add(s, rec(2, 0.5)) for s in range(3)] == [None, None, "pruned"]
    assert mean.pruned_at == 2
    assert mean.add(0, rec(3, 0.5)) == "pruned"  # seeds past the decision leave next epoch
    assert set(trial.reports) == {1, 2}


def test_one_diverged_seed_stops_the_others():
    mean = SeedMean(FakeTrial(), "val/accuracy", lambda step: True, n_seeds=2)
    mean.start(0, 1)
    assert mean.add(0, {"epoch": 1, "train/loss": math.nan}) is None
    assert mean.add(1, rec(1, 0.5)) == "pruned"


def outcome(status: str, values=None) -> TrialOutcome:
    state = TrialState.COMPLETE if status == "completed" else TrialState.PRUNED
    attrs = {"status": status, "metrics": {"val/a": values[0]} if values else {}, "config": {}}
    if status != "completed":
        attrs["reason"] = f"{status} at step 2"
    return TrialOutcome(state, values, attrs)


def test_combine_means_the_objectives_and_lets_a_bad_seed_decide():
    done = combine([outcome("completed", [0.2, 5]), outcome("completed", [0.6, 5])], [7, 8], ["val/a", "params"])
    assert done.state == TrialState.COMPLETE and done.values == pytest.approx([0.4, 5])
    assert done.attrs["seed_values"] == {"val/a": [0.2, 0.6], "params": [5, 5]}
    assert done.attrs["seed_std"]["val/a"] == pytest.approx(0.2) and done.attrs["seeds"] == [7, 8]
    assert done.attrs["metrics"]["val/a"] == pytest.approx(0.4)
    mixed = [outcome("pruned"), outcome("diverged")]
    bad = combine(mixed, [7, 8], ["val/a"])
    assert bad.state == TrialState.PRUNED and bad.attrs["reason"] == "seed 8: diverged at step 2"
