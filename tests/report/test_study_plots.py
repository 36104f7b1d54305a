"""Our own study plots (parallel coordinates, learning curves): each trial lands where its
parameters say, on axes that span the search space."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from tuneforge.report.study import _axis, learning_curves, parallel_coordinates


def _study() -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for lr, act in [(1e-4, "relu"), (1e-2, "gelu"), (1e-3, "tanh"), (1e-3, "gelu")]:
        study.enqueue_trial({"lr": lr, "act": act})
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
                           "act": optuna.distributions.CategoricalDistribution(["relu", "tanh", "gelu"])})  # fmt: skip
        for epoch in range(1, 4):
            trial.report(lr * epoch, epoch)
        study.tell(trial, lr * 100)
    return study


def test_axes_map_log_ranges_and_categories_onto_zero_to_one():
    trials = _study().trials
    lr, (low, high) = _axis(trials, "lr")
    assert lr == pytest.approx([0.0, 1.0, 0.5, 0.5])  # 1e-3 is the middle of 1e-4..1e-2 in log
    assert (low, high) == ("0.0001", "0.01")
    act, ends = _axis(trials, "act")
    assert act == pytest.approx([0.0, 1.0, 0.5, 1.0]) and ends == ("relu", "gelu")


def test_parallel_coordinates_draw_one_line_per_complete_trial(tmp_path):
    study = _study()
    fig = parallel_coordinates(study, "score")
    lines = fig.axes[0].collections[0]
    assert len(lines.get_segments()) == 4
    assert np.asarray(lines.get_array()).tolist() == [t.value for t in study.trials]
    first = lines.get_segments()[0]  # the objective axis, then act, lr (sorted names)
    assert first[:, 1].tolist() == pytest.approx([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="two complete trials"):
        parallel_coordinates(optuna.create_study(), "score")


def test_learning_curves_hold_every_trial_and_skip_nan(tmp_path):
    study = _study()
    trial = study.ask()
    trial.report(math.nan, 1)
    trial.report(0.5, 2)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert learning_curves(study, tmp_path / "c.png").stat().st_size > 5_000
