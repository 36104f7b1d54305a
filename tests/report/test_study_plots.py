"""The study plots' numbers (history, importance, slices, Pareto front, parallel coordinates,
learning curves), which the report page draws: each trial lands where its parameters and values
say, the numbers are Optuna's. The drawing itself is checked in a real browser (test_browser)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

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
    assert act == pytest.approx([0.0, 1.0, 0.5, 1.0]) and ends == ["relu", "gelu"]


def test_parallel_coordinates_draw_one_line_per_complete_trial():
    study = _study()
    plot = parallel_coordinates(study, "score")
    assert plot["axes"] == ["score", "act", "lr"]  # the objective, then the sorted parameter names
    assert plot["scores"] == [t.value for t in study.trials]
    assert len(plot["rows"]) == 4
    # trial 0: the lowest score, relu (the first choice), lr 1e-4 (the low end): all at 0
    assert plot["rows"][0] == pytest.approx([0.0, 0.0, 0.0])
    assert plot["rows"][1] == pytest.approx([1.0, 1.0, 1.0])  # the best, gelu, 1e-2
    assert plot["ends"] == [["0.01", "1"], ["relu", "gelu"], ["0.0001", "0.01"]]
    with pytest.raises(ValueError, match="two complete trials"):
        parallel_coordinates(optuna.create_study(), "score")


def test_learning_curves_hold_every_trial_and_skip_nan():
    study = _study()
    trial = study.ask()
    trial.report(math.nan, 1)
    trial.report(0.5, 2)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    plot = learning_curves(study, "score")
    assert plot["every"][:4] == [[[e, t.params["lr"] * e] for e in (1, 2, 3)] for t in study.trials[:4]]
    assert plot["every"][4] == [[2, 0.5]]  # the pruned trial's NaN is left out
    assert [c["label"].split(":")[1].split()[1] for c in plot["top"]] == ["1", "2", "3", "0"]  # best first
    with pytest.raises(ValueError, match="intermediate"):
        learning_curves(optuna.create_study(), "score")


def test_history_shows_every_complete_trial_and_the_best_so_far():
    study = _study()  # maximized; values 0.01, 1, 0.1, 0.1
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # no value: not drawn
    plot = optimization_history(study, "score")
    assert plot["points"] == [[t.number, t.value] for t in study.trials if t.value is not None]
    best, running = [], -math.inf
    for t in study.trials:
        if t.value is not None:
            running = max(running, t.value)
            best.append(running)
    assert [b[1] for b in plot["best"]] == pytest.approx(best)
    several = optimization_history(study, "score", target=lambda t: t.values[0])
    assert several["best"] is None  # one objective of several: no best-so-far line


def test_importances_are_optunas_numbers_the_most_important_first():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: 10 * t.suggest_float("big", 0, 1) + t.suggest_float("small", 0, 1), n_trials=30)
    plot = param_importances(study, "score")
    fanova = optuna.importance.FanovaImportanceEvaluator(seed=0)
    assert dict(zip(plot["keys"], plot["shares"], strict=True)) == pytest.approx(
        optuna.importance.get_param_importances(study, evaluator=fanova))
    assert plot["keys"][0] == "big"
    assert param_importances(study, "score")["shares"] == plot["shares"]  # seeded: the same bars


def test_slice_panels_put_each_trial_at_its_parameter_value():
    study = _study()
    act, lr = slice_plot(study, "act", "score"), slice_plot(study, "lr", "score")
    index = {"relu": 0, "tanh": 1, "gelu": 2}
    assert act["points"] == [[index[t.params["act"]], t.value, t.number] for t in study.trials]
    assert act["categories"] == ["relu", "tanh", "gelu"] and not act["log"]
    assert lr["points"] == [[t.params["lr"], t.value, t.number] for t in study.trials]  # as Optuna stores them
    assert lr["log"] and lr["categories"] is None
    assert lr["last_trial"] == 3


def test_a_two_objective_front_marks_optunas_best_trials(tmp_path):
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), (1 - t.params["x"]) ** 2 + t.suggest_float("y", 0, 1)),
                   n_trials=20)  # fmt: skip
    plot = pareto_front(study, ["a", "b"], tmp_path)
    assert sorted((a, b) for a, b, _ in plot["front"]) == sorted(tuple(t.values) for t in study.best_trials)
    assert len(plot["front"]) + len(plot["others"]) == 20
    assert list(tmp_path.iterdir()) == []  # drawn by the page: no file


def test_the_study_report_imports_no_plotting_library(tmp_path):
    """The study report is written after every search: its plots are numbers drawn by the page,
    so it imports neither matplotlib nor Optuna's plots (plotly where installed)."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from report_studies import make_study
from tuneforge.report import write_study_report
page = write_study_report(make_study(None, "s"), {str(tmp_path)!r})
print(sorted(m for m in sys.modules if m.startswith(("optuna.visualization", "plotly", "matplotlib"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[0] == "[]"
    page = (tmp_path / "report.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="plot-data">(.*?)</script>', page, re.S).group(1))
    assert [p["kind"] for p in data.values()] == ["history", "importance", "parallel", "slice", "slice",
                                                  "slice", "curves"]  # fmt: skip
    assert not (tmp_path / "plots").exists()


def test_three_objectives_get_optunas_front_and_leave_no_pyplot_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    study = optuna.create_study(directions=["minimize"] * 3, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1 - t.params["x"], t.suggest_float("y", 0, 1)), n_trials=10)
    made, missing = study_plots(study, tmp_path)
    front = next(p for p in made if p["title"] == "Pareto front")
    assert front["kind"] == "image" and front["path"].stat().st_size > 5_000
    assert plt.get_fignums() == []
