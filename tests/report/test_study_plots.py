"""Our own study plots (history, importance, slices, Pareto front, parallel coordinates, learning
curves): each trial lands where its parameters and values say, the numbers are Optuna's."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from tuneforge.report.study_plots import (
    _axis,
    learning_curves,
    optimization_history,
    parallel_coordinates,
    param_importances,
    pareto_front,
    slice_plot,
    study_plots,
)


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


def _offsets(ax) -> np.ndarray:
    return np.asarray(ax.collections[0].get_offsets(), dtype=float)


def test_history_shows_every_complete_trial_and_the_best_so_far():
    study = _study()  # maximized; values 0.01, 1, 0.1, 0.1
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # no value: not drawn
    ax = optimization_history(study, "score").axes[0]
    assert _offsets(ax).tolist() == [[t.number, t.value] for t in study.trials if t.value is not None]
    best, running = [], -math.inf
    for t in study.trials:
        if t.value is not None:
            running = max(running, t.value)
            best.append(running)
    assert ax.lines[0].get_ydata().tolist() == pytest.approx(best)


def test_importances_are_optunas_numbers_the_most_important_on_top():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: 10 * t.suggest_float("big", 0, 1) + t.suggest_float("small", 0, 1), n_trials=30)
    ax = param_importances(study, "score").axes[0]
    shown = {label.get_text(): patch.get_width() for label, patch in zip(ax.get_yticklabels(), ax.patches, strict=True)}
    fanova = optuna.importance.FanovaImportanceEvaluator(seed=0)
    assert shown == pytest.approx(optuna.importance.get_param_importances(study, evaluator=fanova))
    assert param_importances(study, "score").axes[0].patches[-1].get_width() == shown["big"]  # seeded
    assert [label.get_text() for label in ax.get_yticklabels()][-1] == "big"


def test_slice_panels_put_each_trial_at_its_parameter_value():
    study = _study()
    fig = slice_plot(study, ["act", "lr"], "score")
    act, lr = fig.axes[:2]
    index = {"relu": 0, "tanh": 1, "gelu": 2}
    assert _offsets(act).tolist() == [[index[t.params["act"]], t.value] for t in study.trials]
    assert _offsets(lr) == pytest.approx(np.array([[t.params["lr"], t.value] for t in study.trials]))
    assert lr.get_xscale() == "log" and act.get_xscale() == "linear"
    assert [label.get_text() for label in act.get_xticklabels()] == ["relu", "tanh", "gelu"]


def test_a_two_objective_front_marks_optunas_best_trials():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), (1 - t.params["x"]) ** 2 + t.suggest_float("y", 0, 1)),
                   n_trials=20)  # fmt: skip
    ax = pareto_front(study, ["a", "b"]).axes[0]
    front = ax.collections[1]
    assert sorted(map(tuple, front.get_offsets().tolist())) == sorted(tuple(t.values) for t in study.best_trials)
    assert len(ax.collections[0].get_offsets()) + len(front.get_offsets()) == 20


def test_the_study_report_imports_neither_optunas_plots_nor_plotly(tmp_path):
    """Optuna's matplotlib plots import plotly where it is installed (~0.5 s after every search)."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from report_studies import make_study
from tuneforge.report import write_study_report
page = write_study_report(make_study(None, "s"), {str(tmp_path)!r})
print(len(list(page.parent.glob("plots/*.png"))))
print(sorted(m for m in sys.modules if m.startswith(("optuna.visualization", "plotly", "matplotlib.pyplot"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["5", "[]"]


def test_three_objectives_get_optunas_front_and_leave_no_pyplot_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    study = optuna.create_study(directions=["minimize"] * 3, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1 - t.params["x"], t.suggest_float("y", 0, 1)), n_trials=10)
    made, missing = study_plots(study, tmp_path)
    assert "Pareto front" in made and made["Pareto front"].stat().st_size > 5_000
    assert plt.get_fignums() == []
