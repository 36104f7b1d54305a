"""A study's plots as numbers for the report page, drawn there by Chart.js when it opens.

What Optuna's plots show (history, importances, slices, parallel coordinates, learning curves,
the Pareto front), computed here from the trials: each plot is a small dict of plain numbers
(``kind`` says which drawing ``templates/study_plots.js`` makes of it). The numbers come from
Optuna: ``optuna.importance`` for the importances, the trials' values, parameters and
distributions for the rest.

Why the browser draws them, not matplotlib: the study report is written after every search,
inside the command the user times (issue 14 asks for ≤ 1 s after the search). Seven matplotlib
PNGs cost ~1.5 s there on a 64-trial study, nearly all of it laying out tick-label text, and
the import of matplotlib more where nothing else needs it (``tuneforge report --study``). The
numbers are a few KB; Chart.js (vendored, ``report/vendor``) draws them in milliseconds, with
tooltips. Only a Pareto front of three or more objectives is still an image: Optuna's 3-D
matplotlib plot, as a PNG under ``plots/``.

A plot that cannot be drawn for this study (too few trials, no parameters, no intermediate
values) is listed with the reason instead of failing the report.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from tuneforge.report.study import objective_names, top_trials

#: Top trials whose learning curves are drawn in colour.
CURVES = 5

Target = Callable[[FrozenTrial], float]
Plot = dict


def study_plots(study: optuna.Study, folder: Path) -> tuple[list[Plot], dict[str, str]]:
    """Every study plot that has data: ``([plot, ...], {title: why it is missing})``.

    A plot is ``{"title", "kind", "wide", ...its numbers}``; ``kind == "image"`` is a PNG
    written under ``folder`` (``"path"``), every other kind is drawn by the page."""
    made, missing = [], {}
    for title, plot in _plotters(study, folder).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Optuna's "fewer than 2 trials"
                made.append({"title": title, "wide": is_wide(title), **plot()})
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            missing[title] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return made, missing


def is_wide(title: str) -> bool:
    """Plots drawn across the whole report width (many axes or many lines)."""
    return title.startswith(("Parallel coordinates", "Learning curves"))


def _plotters(study: optuna.Study, folder: Path) -> dict[str, Callable[[], Plot]]:
    names = objective_names(study)
    if len(study.directions) == 1:
        return {
            "Optimization history": lambda: optimization_history(study, names[0]),
            "Parameter importance": lambda: param_importances(study, names[0]),
            "Parallel coordinates": lambda: parallel_coordinates(study, names[0]),
            **_slice_plotters(study, names[0], None, "Slice"),
            "Learning curves": lambda: learning_curves(study, names[0]),
        }
    first: Target = lambda t: t.values[0]  # noqa: E731 - the first objective of several
    return {
        "Pareto front": lambda: pareto_front(study, names, folder),
        f"Optimization history ({names[0]})": lambda: optimization_history(study, names[0], first),
        f"Parameter importance ({names[0]})": lambda: param_importances(study, names[0], first),
        f"Parallel coordinates ({names[0]})": lambda: parallel_coordinates(study, names[0], first),
        **_slice_plotters(study, names[0], first, f"Slice ({names[0]})"),
    }


def _slice_plotters(study: optuna.Study, name: str, target: Target | None,
                    title: str) -> dict[str, Callable[[], Plot]]:  # fmt: skip
    """One slice plot per parameter (a chart each: the page's grid lays them out)."""
    params = sorted({p for t in study.get_trials(deepcopy=False) for p in t.params})
    if not params:
        return {title: lambda: slice_plot(study, None, name, target)}
    return {f"{title}: {param}": (lambda p=param: slice_plot(study, p, name, target)) for param in params}


def _complete(study: optuna.Study, target: Target | None) -> tuple[list[FrozenTrial], np.ndarray]:
    """The complete trials with a finite objective, and those objectives."""
    value = target or (lambda t: t.value)
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if value(t) is not None and math.isfinite(value(t))]  # fmt: skip
    return trials, np.array([value(t) for t in trials], dtype=float)


def optimization_history(study: optuna.Study, name: str, target: Target | None = None) -> Plot:
    """Each complete trial's ``[number, value]``, and the best value so far (a step line)."""
    trials, values = _complete(study, target)
    if not trials:
        raise ValueError("no complete trial yet")
    numbers = [t.number for t in trials]
    best = None
    if target is None:  # the best so far of one objective among several is not a front
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        running = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        best = [[n, float(v)] for n, v in zip(numbers, running, strict=True)]
    points = [[n, float(v)] for n, v in zip(numbers, values, strict=True)]
    return {"kind": "history", "name": name, "points": points, "best": best}


def param_importances(study: optuna.Study, name: str, target: Target | None = None) -> Plot:
    """``optuna.importance.get_param_importances``, the most important first: fANOVA (Optuna's
    default evaluator), seeded so the same study always shows the same bars (Optuna 4's default
    seed is random)."""
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
    if not importances:
        raise ValueError("no parameter to rank")
    return {"kind": "importance", "name": name, "keys": list(importances),
            "shares": [float(s) for s in importances.values()]}  # fmt: skip


def slice_plot(study: optuna.Study, param: str | None, name: str, target: Target | None = None) -> Plot:
    """Each complete trial's ``[parameter value, objective, trial number]`` for one parameter:
    a log axis for a log-sampled one, a category's index (``categories`` names them) for a
    categorical one."""
    trials, values = _complete(study, target)
    have = [i for i, t in enumerate(trials) if param in t.params]
    if not have:
        raise ValueError("slice plots need complete trials with parameters")
    dist = trials[have[0]].distributions[param]
    categories = None
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        categories = [str(c) for c in dist.choices]
        xs = [list(dist.choices).index(trials[i].params[param]) for i in have]
    else:
        xs = [float(trials[i].params[param]) for i in have]
    points = [[x, float(values[i]), trials[i].number] for x, i in zip(xs, have, strict=True)]
    return {"kind": "slice", "name": name, "param": param, "points": points,
            "log": bool(getattr(dist, "log", False)), "categories": categories,
            "last_trial": max(t.number for t in trials)}  # fmt: skip


def pareto_front(study: optuna.Study, names: list[str], folder: Path) -> Plot:
    """Two objectives: every complete trial's values, the Pareto-optimal ones apart. Three or
    more: Optuna's 3-D plot as a PNG in ``folder``."""
    if len(names) != 2:
        return _optuna_front(study, names, folder)
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if all(v is not None and math.isfinite(v) for v in t.values)]  # fmt: skip
    if not trials:
        raise ValueError("no complete trial yet")
    front = {t.number for t in study.best_trials}
    points = {on: [[*map(float, t.values), t.number] for t in trials if (t.number in front) == on]
              for on in (True, False)}  # fmt: skip
    return {"kind": "pareto", "names": names, "front": points[True], "others": points[False]}


def _optuna_front(study: optuna.Study, names: list[str], folder: Path) -> Plot:
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    from tuneforge.report.plots import save_png

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fig = ovm.plot_pareto_front(study, target_names=names).figure
    plt.close(fig)  # Optuna draws through pyplot: let go of it there; it saves all the same
    return {"kind": "image", "path": save_png(fig, folder / "study_pareto_front.png")}


def parallel_coordinates(study: optuna.Study, target_name: str, target: Target | None = None) -> Plot:
    """The complete trials as lines across one axis per parameter, coloured by the objective.

    ``rows[i]`` is trial ``i``'s objective then its parameters, each on [0, 1] of its axis
    (log-scaled for log-sampled parameters, categories in order; ``None`` where a trial lacks
    the parameter); ``ends`` labels each axis's bottom and top."""
    trials, scores = _complete(study, target)
    params = sorted({p for t in trials for p in t.params})
    if len(trials) < 2 or not params:
        raise ValueError("parallel coordinates need two complete trials with parameters")
    columns, ends = zip(*(_axis(trials, p) for p in params), strict=True)
    lo, hi = scores.min(), scores.max()
    rows = np.column_stack([(scores - lo) / (hi - lo or 1), *columns])
    return {"kind": "parallel", "name": target_name, "axes": [target_name, *params],
            "ends": [[f"{lo:.4g}", f"{hi:.4g}"], *ends], "scores": [float(s) for s in scores],
            "rows": [[None if math.isnan(v) else float(v) for v in row] for row in rows]}  # fmt: skip


def _axis(trials: list[FrozenTrial], param: str) -> tuple[np.ndarray, list[str]]:
    """A parameter's values on [0, 1] (NaN where a trial lacks it) and its end labels."""
    dist = next(t.distributions[param] for t in trials if param in t.params)
    raw = [t.params.get(param) for t in trials]
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        choices = list(dist.choices)
        index = np.array([choices.index(v) if v is not None else np.nan for v in raw], dtype=float)
        return index / max(len(choices) - 1, 1), [str(choices[0]), str(choices[-1])]
    values = np.array([v if v is not None else np.nan for v in raw], dtype=float)
    scaled = np.log(values) if getattr(dist, "log", False) else values
    lo, hi = np.log([dist.low, dist.high]) if getattr(dist, "log", False) else (dist.low, dist.high)
    return (scaled - lo) / (hi - lo or 1), [f"{dist.low:.3g}", f"{dist.high:.3g}"]


def learning_curves(study: optuna.Study, name: str) -> Plot:
    """Every trial's reported ``[epoch, value]`` pairs (pruned trials end early; NaN left out),
    and the best :data:`CURVES` complete trials' curves apart, labelled."""
    every = [c for c in (_curve(t) for t in study.get_trials(deepcopy=False)) if c]
    if not every:
        raise ValueError("no trial reported intermediate values")
    top = [{"label": f"#{rank}: trial {t.number} ({t.value:.4g})", "points": _curve(t)}
           for rank, t in enumerate((t for t in top_trials(study, CURVES) if _curve(t)), 1)]  # fmt: skip
    return {"kind": "curves", "name": name, "every": every, "top": top}


def _curve(trial: FrozenTrial) -> list[list[float]]:
    values = trial.intermediate_values
    return [[s, float(values[s])] for s in sorted(values) if values[s] is not None and math.isfinite(values[s])]
