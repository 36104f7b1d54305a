"""A study's plots and tables, from a plain ``optuna.Study`` (any storage).

The plots are Optuna's own (``optuna.visualization.matplotlib``), except parallel coordinates and
learning curves, drawn here as one ``LineCollection`` each (Optuna's cost ~1.3 s of the ~2.7 s
report on a 64-trial study: one artist or twin axis per trial or parameter). A plot
Optuna cannot draw for this study (too few trials, one parameter, no intermediate values) is
listed with Optuna's reason instead of failing the report.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import matplotlib.pyplot as plt
import numpy as np
import optuna
import optuna.visualization.matplotlib as ovm
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from tuneforge.errors import DataError
from tuneforge.report.plots import save_png

#: Optuna writes the names of a tuneforge study's objectives here (tuning runner).
OBJECTIVES_ATTR = "tuneforge:objectives"
#: ... and the study's starting recipe (resolved), written when the study is created
BASE_ATTR = "tuneforge:base"
JOURNAL_PREFIX = "journal:///"
GRPC_PREFIX = "grpc://"
GRPC_TIMEOUT_S = 30  # how long a report waits for `tuneforge storage serve` to answer
DPI = 90


def open_study(name: str | None, storage_url: str) -> optuna.Study:
    """Load ``name`` from a storage URL; with one study in the storage, ``name`` may be None."""
    storage = open_storage(storage_url)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name is None:
        if len(names) != 1:
            raise DataError(f"{storage_url}: holds {len(names)} studies ({', '.join(names) or 'none'}); "
                            "name one with --study")  # fmt: skip
        name = names[0]
    if name not in names:
        raise DataError(f"--study: no study {name!r} in {storage_url}; "
                        f"it holds: {', '.join(names) or 'none'}")  # fmt: skip
    return optuna.load_study(study_name=name, storage=storage)


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """``journal:///file.journal``, an RDB URL (``sqlite:///f.db``, ``postgresql://...``) or
    ``grpc://host:port`` (``tuneforge storage serve``).

    Only existing storages: a report never creates one (a typo would make an empty database).
    """
    if url.startswith(JOURNAL_PREFIX):
        path = Path(url.removeprefix(JOURNAL_PREFIX))
        _must_exist(path, url)
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    if url.startswith("sqlite:///"):
        _must_exist(Path(url.removeprefix("sqlite:///")), url)
    try:
        if url.startswith(GRPC_PREFIX):
            return _grpc_proxy(url)
        return optuna.storages.RDBStorage(url, skip_table_creation=True)
    except Exception as exc:  # SQLAlchemy raises many types for a bad URL or a dead server
        raise DataError(f"--storage: cannot open {url.rsplit('@', 1)[-1]} ({type(exc).__name__})") from None


def _grpc_proxy(url: str) -> optuna.storages.BaseStorage:
    parts = urlsplit(url)
    if not parts.hostname or parts.port is None:
        raise ValueError("expected grpc://HOST:PORT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        storage = optuna.storages.GrpcStorageProxy(host=parts.hostname, port=parts.port)
    storage.wait_server_ready(timeout=GRPC_TIMEOUT_S)
    return storage


def _must_exist(path: Path, url: str) -> None:
    if not path.is_file():
        raise DataError(f"--storage: {url}: the file {path} does not exist")


def objective_names(study: optuna.Study) -> list[str]:
    names = study.metric_names or study.user_attrs.get(OBJECTIVES_ATTR)
    return list(names) if names else [f"objective {i}" if len(study.directions) > 1 else "value"
                                      for i in range(len(study.directions))]  # fmt: skip


def counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    return {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState
            if any(t.state == state for t in trials)}  # fmt: skip


def engines(study: optuna.Study) -> dict:
    """How the finished trials trained: ``{"cohort": n, "alone": n, "fallbacks": {why: n}}``.

    The cohort executor records ``tuneforge:engine`` (and ``tuneforge:fallback``, the reason a
    trial trained alone); trials without it trained alone by choice (``tune.cohort: 1``, or a
    model kind cohorts do not batch)."""
    out: dict = {"cohort": 0, "alone": 0, "fallbacks": {}}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                          TrialState.FAIL)):  # fmt: skip
        attrs = trial.user_attrs
        out["cohort" if attrs.get("tuneforge:engine") == "cohort" else "alone"] += 1
        if (why := attrs.get("tuneforge:fallback")) is not None:
            out["fallbacks"][why] = out["fallbacks"].get(why, 0) + 1
    return out


def top_trials(study: optuna.Study, n: int = 10) -> list[FrozenTrial]:
    """Best completed trials first (single objective), or the Pareto front (several)."""
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda t: t.number)[:n]
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]  # fmt: skip
    sign = 1 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1
    return sorted(done, key=lambda t: sign * t.value)[:n]


def best_config(study: optuna.Study) -> tuple[dict | None, FrozenTrial | None]:
    """The best trial's stored recipe (``user_attrs["config"]``), else its parameters."""
    best = top_trials(study, 1)
    if not best:
        return None, None
    trial = best[0]
    return trial.user_attrs.get("config") or dict(trial.params), trial


def tuned_keys(study: optuna.Study, trial: FrozenTrial | None) -> list[dict]:
    """The best trial's tuned keys: its value, the starting recipe's and how they differ.

    Values come from the trial's stored recipe (as typed), else its Optuna parameters; the
    start from the study's ``tuneforge:base`` attribute (None for studies made before it).
    """
    if trial is None:
        return []
    config, base = trial.user_attrs.get("config"), study.user_attrs.get(BASE_ATTR)
    rows = []
    for key in sorted(trial.params):
        value = _dotted(config, key) if config is not None else trial.params[key]
        start = _dotted(base, key) if base is not None else None
        rows.append({"key": key, "value": value, "start": start, "change": _change(start, value)})
    return rows


def _dotted(tree: dict | None, key: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _change(start, value) -> str:
    """``×3.2`` for positive numbers, ``+0.1`` across zero, ``same`` or ``changed``."""
    if start == value:
        return "same"
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, value))
    if numbers and start > 0 and value > 0:
        return f"×{value / start:.3g}"
    if numbers:
        return f"{value - start:+.3g}"
    return "changed" if start is not None else ""


def without_nulls(tree):
    """A recipe without its null keys (they are the defaults; the report shows what is set)."""
    if isinstance(tree, dict):
        return {k: without_nulls(v) for k, v in tree.items() if v is not None}
    if isinstance(tree, list):
        return [without_nulls(v) for v in tree]
    return tree


# ---------------------------------------------------------------------------------- plots
#: Params per slice-plot image: Optuna draws one panel per param in a row, and a row of many
#: shrinks to unreadable text at the report's width; chunks keep each panel ~3 inches wide.
SLICE_PARAMS = 3
#: Width of a plot that spans the report (its content is ~1050 px wide): never scaled down.
WIDE = (11.0, 4.4)
#: Top trials whose learning curves share one plot.
CURVES = 5


def _plotters(study: optuna.Study) -> dict[str, Callable[[], object]]:
    names = objective_names(study)
    if len(study.directions) == 1:
        plots = {
            "Optimization history": lambda: ovm.plot_optimization_history(study, target_name=names[0]),
            "Parameter importance": lambda: ovm.plot_param_importances(study, target_name=names[0]),
            "Parallel coordinates": lambda: parallel_coordinates(study, names[0]),
            **_slice_plotters(study, {"target_name": names[0]}, "Slice plots"),
        }
        return plots
    first = {"target": lambda t: t.values[0], "target_name": names[0]}
    return {
        "Pareto front": lambda: ovm.plot_pareto_front(study, target_names=names),
        f"Optimization history ({names[0]})": lambda: ovm.plot_optimization_history(study, **first),
        f"Parameter importance ({names[0]})": lambda: ovm.plot_param_importances(study, **first),
        f"Parallel coordinates ({names[0]})": lambda: parallel_coordinates(study, names[0], first["target"]),
        **_slice_plotters(study, first, f"Slice plots ({names[0]})"),
    }


def _slice_plotters(study: optuna.Study, target: dict, title: str) -> dict[str, Callable[[], object]]:
    """One slice plot per chunk of :data:`SLICE_PARAMS` parameters (one plot if it fits)."""
    params = sorted({p for t in study.get_trials(deepcopy=False) for p in t.params})
    chunks = [params[i:i + SLICE_PARAMS] for i in range(0, len(params), SLICE_PARAMS)] or [None]
    if len(chunks) == 1:
        return {title: lambda: ovm.plot_slice(study, params=chunks[0], **target)}
    return {f"{title} {i + 1}/{len(chunks)}": (lambda c=chunk: ovm.plot_slice(study, params=c, **target))
            for i, chunk in enumerate(chunks)}  # fmt: skip


def _figure_of(drawn) -> Figure:
    """The figure of what a plotter returned: our own ``Figure`` or Optuna's axes."""
    return drawn if isinstance(drawn, Figure) else np.asarray(drawn, dtype=object).ravel()[0].figure


def is_wide(title: str) -> bool:
    """Plots drawn across the whole report width (many panels or many axes)."""
    return title.startswith(("Slice plots", "Parallel coordinates", "Learning curves"))


def study_plots(study: optuna.Study, folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Optuna's matplotlib plots, our parallel coordinates and learning curves as PNGs;
    ``({title: path}, {title: why it is missing})``."""
    folder.mkdir(parents=True, exist_ok=True)
    made, missing = {}, {}
    for i, (title, plot) in enumerate(_plotters(study).items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)  # "fewer than 2 trials": reported below
            try:
                drawn = plot()
                fig = _figure_of(drawn)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                missing[title] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                continue
        try:
            if not any(ax.has_data() for ax in fig.axes):
                missing[title] = "no trials with data for this plot yet"
                continue
            fig.set_size_inches(*(WIDE if is_wide(title) else (6.4, 4.2)))
            # Ours are laid out already; tight_layout would push the slice plots' colorbar over an axis.
            if not isinstance(drawn, Figure) and "Slice" not in title:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # colorbar axes
                    fig.tight_layout()
            made[title] = save_png(fig, folder / f"study_{i}_{_slug(title)}.png", DPI)
        finally:
            plt.close(fig)
    curves = learning_curves(study, folder / "study_learning_curves.png")
    if curves is not None:
        made["Learning curves"] = curves
    return made, missing


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
    return save_png(fig, path, DPI)


def _curve(trial: FrozenTrial) -> np.ndarray:
    steps = sorted(s for s, v in trial.intermediate_values.items() if v is not None and math.isfinite(v))
    return np.array([[s, trial.intermediate_values[s]] for s in steps], dtype=float).reshape(-1, 2)


def parallel_coordinates(study: optuna.Study, target_name: str,
                         target: Callable[[FrozenTrial], float] | None = None) -> Figure:
    """The complete trials as lines across one axis per parameter, coloured by the objective.

    What Optuna's ``plot_parallel_coordinate`` shows, drawn as one ``LineCollection`` over
    shared axes (Optuna's draws a line and a twin axis per parameter: ~0.8 s on a 64-trial
    study). Each axis spans its parameter's range (log-scaled for log-sampled ones, categories
    in order), labelled at both ends."""
    value = target or (lambda t: t.value)
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if value(t) is not None and math.isfinite(value(t))]  # fmt: skip
    params = sorted({p for t in trials for p in t.params})
    if len(trials) < 2 or not params:
        raise ValueError("parallel coordinates need two complete trials with parameters")
    columns, labels = zip(*(_axis(trials, p) for p in params), strict=True)
    scores = np.array([value(t) for t in trials])
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


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_")


def safe_name(name: str) -> str:
    """A study name as one folder name: no separators, no ``..`` (it may come from a database)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "study"
