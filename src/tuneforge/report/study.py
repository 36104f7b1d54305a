"""A study's plots and tables, from a plain ``optuna.Study`` (any storage).

The plots are Optuna's own (``optuna.visualization.matplotlib``); we only save them. A plot
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
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from tuneforge.errors import DataError

#: Optuna writes the names of a tuneforge study's objectives here (tuning runner).
OBJECTIVES_ATTR = "tuneforge:objectives"
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


# ---------------------------------------------------------------------------------- plots
def _plotters(study: optuna.Study) -> dict[str, Callable[[], object]]:
    names = objective_names(study)
    if len(study.directions) == 1:
        return {
            "Optimization history": lambda: ovm.plot_optimization_history(study, target_name=names[0]),
            "Parameter importance": lambda: ovm.plot_param_importances(study, target_name=names[0]),
            "Parallel coordinates": lambda: ovm.plot_parallel_coordinate(study, target_name=names[0]),
            "Slice plots": lambda: ovm.plot_slice(study, target_name=names[0]),
            "Intermediate values": lambda: ovm.plot_intermediate_values(study),
        }
    first = {"target": lambda t: t.values[0], "target_name": names[0]}
    return {
        "Pareto front": lambda: ovm.plot_pareto_front(study, target_names=names),
        f"Optimization history ({names[0]})": lambda: ovm.plot_optimization_history(study, **first),
        f"Parameter importance ({names[0]})": lambda: ovm.plot_param_importances(study, **first),
        f"Parallel coordinates ({names[0]})": lambda: ovm.plot_parallel_coordinate(study, **first),
        f"Slice plots ({names[0]})": lambda: ovm.plot_slice(study, **first),
    }


def _figure_of(axes) -> plt.Figure:
    return np.asarray(axes, dtype=object).ravel()[0].figure


def study_plots(study: optuna.Study, folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Optuna's matplotlib plots as PNGs; ``({title: path}, {title: why it is missing})``."""
    folder.mkdir(parents=True, exist_ok=True)
    made, missing = {}, {}
    for i, (title, plot) in enumerate(_plotters(study).items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)  # "fewer than 2 trials": reported below
            try:
                fig = _figure_of(plot())
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                missing[title] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                continue
        try:
            if not any(ax.has_data() for ax in fig.axes):
                missing[title] = "no trials with data for this plot yet"
                continue
            path = folder / f"study_{i}_{_slug(title)}.png"
            slices = sum(ax.get_label() != "<colorbar>" for ax in fig.axes) if "Slice" in title else 1
            fig.set_size_inches(min(max(6.4, 3.0 * slices), 16), 4.2)  # slice plots: one per param
            if slices == 1:  # tight_layout would push the slice plots' colorbar over an axis
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # colorbar axes
                    fig.tight_layout()
            fig.savefig(path, dpi=DPI)
            made[title] = path
        finally:
            plt.close(fig)
    return made, missing


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_")


def safe_name(name: str) -> str:
    """A study name as one folder name: no separators, no ``..`` (it may come from a database)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "study"
