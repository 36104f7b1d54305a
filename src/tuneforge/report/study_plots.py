"""A study's plots as PNGs: what Optuna's plots show, drawn here with few matplotlib artists.

Why our own and not ``optuna.visualization.matplotlib``: the study report is written after
every search, inside the command the user times. Importing Optuna's matplotlib plots imports
``optuna.visualization`` and with it plotly where it is installed (~0.5 s), its functions go
through pyplot and ``tight_layout``, and several draw one artist (or a twin axis) per trial or
parameter: on the default 64-trial study they cost ~2 s of the ~2.5 s after the search. Each
plot here is a handful of collections on fixed margins; the numbers come from Optuna
(``optuna.importance`` for the importances, the trials' values and parameters for the rest).
Only a Pareto front of three or more objectives still uses Optuna's plot (imported there).

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
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from optuna.trial import FrozenTrial, TrialState

from tuneforge.report.plots import save_png
from tuneforge.report.study import objective_names, top_trials

#: Params per slice-plot image: one panel per param in a row, and a row of many shrinks to
#: unreadable text at the report's width; chunks keep each panel ~3.5 inches wide.
SLICE_PARAMS = 3
#: Width of a plot that spans the report (its content is ~1050 px wide): never scaled down.
WIDE = (11.0, 4.4)
#: A plot that sits beside another one.
NARROW = (6.4, 4.2)
#: Top trials whose learning curves share one plot.
CURVES = 5

Target = Callable[[FrozenTrial], float]


def study_plots(study: optuna.Study, folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Every study plot that has data, as PNGs in ``folder``:
    ``({title: path}, {title: why it is missing})``."""
    folder.mkdir(parents=True, exist_ok=True)
    made, missing = {}, {}
    for i, (title, plot) in enumerate(_plotters(study).items()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Optuna's "fewer than 2 trials"
                fig = plot()
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            missing[title] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            continue
        if fig is None or not any(ax.has_data() for ax in fig.axes):
            missing[title] = "no trials with data for this plot yet"
            continue
        made[title] = save_png(fig, folder / f"study_{i}_{_slug(title)}.png")
    curves = learning_curves(study, folder / "study_learning_curves.png")
    if curves is not None:
        made["Learning curves"] = curves
    return made, missing


def is_wide(title: str) -> bool:
    """Plots drawn across the whole report width (many panels or many axes)."""
    return title.startswith(("Slice plots", "Parallel coordinates", "Learning curves"))


def _plotters(study: optuna.Study) -> dict[str, Callable[[], Figure | None]]:
    names = objective_names(study)
    if len(study.directions) == 1:
        return {
            "Optimization history": lambda: optimization_history(study, names[0]),
            "Parameter importance": lambda: param_importances(study, names[0]),
            "Parallel coordinates": lambda: parallel_coordinates(study, names[0]),
            **_slice_plotters(study, names[0], None, "Slice plots"),
        }
    first: Target = lambda t: t.values[0]  # noqa: E731 - the first objective of several
    return {
        "Pareto front": lambda: pareto_front(study, names),
        f"Optimization history ({names[0]})": lambda: optimization_history(study, names[0], first),
        f"Parameter importance ({names[0]})": lambda: param_importances(study, names[0], first),
        f"Parallel coordinates ({names[0]})": lambda: parallel_coordinates(study, names[0], first),
        **_slice_plotters(study, names[0], first, f"Slice plots ({names[0]})"),
    }


def _slice_plotters(study: optuna.Study, name: str, target: Target | None,
                    title: str) -> dict[str, Callable[[], Figure]]:  # fmt: skip
    """One slice plot per chunk of :data:`SLICE_PARAMS` parameters (one plot if it fits)."""
    params = sorted({p for t in study.get_trials(deepcopy=False) for p in t.params})
    chunks = [params[i:i + SLICE_PARAMS] for i in range(0, len(params), SLICE_PARAMS)] or [[]]
    if len(chunks) == 1:
        return {title: lambda: slice_plot(study, chunks[0], name, target)}
    return {f"{title} {i + 1}/{len(chunks)}": (lambda c=chunk: slice_plot(study, c, name, target))
            for i, chunk in enumerate(chunks)}  # fmt: skip


def _complete(study: optuna.Study, target: Target | None) -> tuple[list[FrozenTrial], np.ndarray]:
    """The complete trials with a finite objective, and those objectives."""
    value = target or (lambda t: t.value)
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if value(t) is not None and math.isfinite(value(t))]  # fmt: skip
    return trials, np.array([value(t) for t in trials], dtype=float)


def optimization_history(study: optuna.Study, name: str, target: Target | None = None) -> Figure:
    """Each complete trial's value by trial number, and the best value so far (a step line)."""
    trials, values = _complete(study, target)
    if not trials:
        raise ValueError("no complete trial yet")
    numbers = np.array([t.number for t in trials])
    fig = Figure(figsize=NARROW)
    ax = fig.add_subplot()
    ax.scatter(numbers, values, s=14, color="tab:blue", label=name)
    if target is None:  # the best so far of one objective among several is not a front
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        ax.step(numbers, best, where="post", color="tab:red", label="best value")
    ax.set(xlabel="trial", ylabel=name, title="Optimization history")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.13, top=0.9)
    return fig


def param_importances(study: optuna.Study, name: str, target: Target | None = None) -> Figure:
    """``optuna.importance.get_param_importances`` as bars: fANOVA (Optuna's default evaluator),
    seeded so the same study always shows the same bars (Optuna 4's default seed is random)."""
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
    if not importances:
        raise ValueError("no parameter to rank")
    keys = list(importances)[::-1]  # the most important on top
    shares = [importances[k] for k in keys]
    fig = Figure(figsize=NARROW)
    ax = fig.add_subplot()
    bars = ax.barh(range(len(keys)), shares, color="tab:blue")
    ax.bar_label(bars, [f"{s:.2f}" for s in shares], padding=3, fontsize="small")
    ax.set_yticks(range(len(keys)), keys, fontsize="small")
    ax.set(xlim=(0, max(shares) * 1.18 or 1), xlabel=f"importance for {name}",
           title="Parameter importance")  # fmt: skip
    ax.grid(alpha=0.3, axis="x")
    longest = max(len(k) for k in keys)  # room for the dotted keys at the left
    fig.subplots_adjust(left=min(0.1 + 0.0115 * longest, 0.55), right=0.97, bottom=0.13, top=0.9)
    return fig


def slice_plot(study: optuna.Study, params: list[str], name: str,
               target: Target | None = None) -> Figure:  # fmt: skip
    """One panel per parameter: each complete trial's value against the parameter's value,
    coloured by trial number (log axes for log-sampled parameters, categories in order)."""
    trials, values = _complete(study, target)
    if not trials or not params:
        raise ValueError("slice plots need complete trials with parameters")
    fig = Figure(figsize=WIDE)
    axes = fig.subplots(1, len(params), sharey=True, squeeze=False)[0]
    numbers = np.array([t.number for t in trials])
    points = None
    for ax, param in zip(axes, params, strict=True):
        have = [i for i, t in enumerate(trials) if param in t.params]
        dist = next((trials[i].distributions[param] for i in have), None)
        raw = [trials[i].params[param] for i in have]
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            labels = [str(c) for c in dist.choices]
            xs = [list(dist.choices).index(v) for v in raw]
            ax.set_xticks(range(len(labels)), labels, fontsize="small",
                          rotation=20 if max(map(len, labels)) > 6 else 0)  # fmt: skip
            ax.set_xlim(-0.5, len(labels) - 0.5)
        else:
            xs = raw
            if getattr(dist, "log", False):
                _log_axis(ax, min(xs), max(xs))
        points = ax.scatter(xs, values[have], c=numbers[have], cmap="Blues", vmin=0,
                            vmax=max(numbers.max(), 1), s=14, edgecolors="0.4", linewidths=0.3)  # fmt: skip
        ax.set_xlabel(param, fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(name)
    fig.suptitle("Slice plots")
    fig.subplots_adjust(left=0.07, right=0.9, bottom=0.2, top=0.88, wspace=0.08)
    fig.colorbar(points, ax=list(axes), label="trial", pad=0.015, fraction=0.03)
    return fig


def _log_axis(ax, low: float, high: float) -> None:
    """A log x axis labelled at a few round values; matplotlib's default labels every minor
    tick of a range under a decade, and the labels run into each other."""
    ax.set_xscale("log")
    narrow = math.log10(max(high, low * 1.0001) / low) < 2
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if narrow else (1.0,), numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def pareto_front(study: optuna.Study, names: list[str]) -> Figure:
    """Two objectives: every complete trial, the Pareto-optimal ones in colour. Three or more:
    Optuna's plot (it draws a 3-D scatter)."""
    if len(names) != 2:
        import matplotlib.pyplot as plt
        import optuna.visualization.matplotlib as ovm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fig = ovm.plot_pareto_front(study, target_names=names).figure
        plt.close(fig)  # Optuna draws through pyplot: let go of it there; it saves all the same
        return fig
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if all(v is not None and math.isfinite(v) for v in t.values)]  # fmt: skip
    if not trials:
        raise ValueError("no complete trial yet")
    front = {t.number for t in study.best_trials}
    fig = Figure(figsize=NARROW)
    ax = fig.add_subplot()
    for on_front, style in ((False, {"color": "0.65", "label": "trial"}),
                            (True, {"color": "tab:red", "label": "Pareto front"})):  # fmt: skip
        xy = np.array([t.values for t in trials if (t.number in front) == on_front]).reshape(-1, 2)
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=16, **style)
    ax.set(xlabel=names[0], ylabel=names[1], title="Pareto front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.13, top=0.9)
    return fig


def parallel_coordinates(study: optuna.Study, target_name: str, target: Target | None = None) -> Figure:
    """The complete trials as lines across one axis per parameter, coloured by the objective.

    What Optuna's ``plot_parallel_coordinate`` shows, drawn as one ``LineCollection`` over
    shared axes (Optuna's draws a line and a twin axis per parameter: ~0.8 s on a 64-trial
    study). Each axis spans its parameter's range (log-scaled for log-sampled ones, categories
    in order), labelled at both ends."""
    trials, scores = _complete(study, target)
    params = sorted({p for t in trials for p in t.params})
    if len(trials) < 2 or not params:
        raise ValueError("parallel coordinates need two complete trials with parameters")
    columns, labels = zip(*(_axis(trials, p) for p in params), strict=True)
    lo, hi = scores.min(), scores.max()
    rows = np.column_stack([(scores - lo) / (hi - lo or 1), *columns])
    fig = Figure(figsize=WIDE)
    ax = fig.add_subplot()
    xs = np.arange(rows.shape[1])
    lines = LineCollection([np.column_stack([xs, r]) for r in rows], array=scores, cmap="viridis",
                           linewidths=1.0, alpha=0.8)  # fmt: skip
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, label=target_name, pad=0.01)
    ax.vlines(xs, 0, 1, colors="0.3", linewidths=0.8)
    for x, (low, high) in zip(xs, [(f"{lo:.4g}", f"{hi:.4g}"), *labels], strict=True):
        ax.text(x, -0.04, low, ha="center", va="top", fontsize="small")
        ax.text(x, 1.04, high, ha="center", va="bottom", fontsize="small")
    # Two lines per dotted key ("train.optimizer" over "lr"): long keys side by side stay apart.
    ax.set_xticks(xs, [name.rpartition(".")[0] + "\n" + name.rpartition(".")[2] for name in
                       [target_name, *params]], fontsize="small")  # fmt: skip
    ax.tick_params(axis="x", pad=16)
    ax.set(xlim=(-0.3, xs[-1] + 0.3), ylim=(-0.12, 1.12), yticks=[], title="Parallel coordinates")
    ax.spines[:].set_visible(False)
    fig.subplots_adjust(left=0.03, right=0.98, bottom=0.16, top=0.88)
    return fig


def _axis(trials: list[FrozenTrial], param: str) -> tuple[np.ndarray, tuple[str, str]]:
    """A parameter's values on [0, 1] (NaN where a trial lacks it) and its end labels."""
    dist = next(t.distributions[param] for t in trials if param in t.params)
    raw = [t.params.get(param) for t in trials]
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        choices = list(dist.choices)
        index = np.array([choices.index(v) if v is not None else np.nan for v in raw], dtype=float)
        return index / max(len(choices) - 1, 1), (str(choices[0]), str(choices[-1]))
    values = np.array([v if v is not None else np.nan for v in raw], dtype=float)
    scaled = np.log(values) if getattr(dist, "log", False) else values
    lo, hi = np.log([dist.low, dist.high]) if getattr(dist, "log", False) else (dist.low, dist.high)
    return (scaled - lo) / (hi - lo or 1), (f"{dist.low:.3g}", f"{dist.high:.3g}")


def learning_curves(study: optuna.Study, path: Path) -> Path | None:
    """Every trial's reported value per epoch (grey; pruned trials end early), the best
    :data:`CURVES` trials in colour. Optuna's ``plot_intermediate_values`` draws one artist per
    trial and cost ~0.5 s on a 64-trial study; one ``LineCollection`` draws them all at once."""
    if len(study.directions) > 1:
        return None
    curves = [_curve(t) for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    if not curves:
        return None
    fig = Figure(figsize=WIDE)
    ax = fig.add_subplot()
    ax.add_collection(LineCollection(curves, colors="0.6", linewidths=0.8, alpha=0.5,
                                     label=f"every trial ({len(curves)})"))  # fmt: skip
    ax.autoscale()
    top = [t for t in top_trials(study, CURVES) if t.intermediate_values]
    for rank, trial in enumerate(top, 1):
        xy = _curve(trial)
        ax.plot(xy[:, 0], xy[:, 1], marker="." if len(xy) < 40 else None,
                label=f"#{rank}: trial {trial.number} ({trial.value:.4g})")  # fmt: skip
    ax.set(xlabel="epoch", ylabel=objective_names(study)[0],
           title=f"Learning curves: every trial, the top {len(top)} in colour")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9)
    return save_png(fig, path)


def _curve(trial: FrozenTrial) -> np.ndarray:
    steps = sorted(s for s, v in trial.intermediate_values.items() if v is not None and math.isfinite(v))
    return np.array([[s, trial.intermediate_values[s]] for s in steps], dtype=float).reshape(-1, 2)


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_")
