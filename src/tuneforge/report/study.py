"""A study's tables, from a plain ``optuna.Study`` (any storage): counts, engines, top trials,
the best recipe and its tuned keys; opening a study by URL. Its plots: ``report/study_plots.py``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from tuneforge.errors import DataError

#: Optuna writes the names of a tuneforge study's objectives here (tuning runner).
OBJECTIVES_ATTR = "tuneforge:objectives"
#: ... and the study's starting recipe (resolved), written when the study is created
BASE_ATTR = "tuneforge:base"
JOURNAL_PREFIX = "journal:///"
GRPC_PREFIX = "grpc://"
GRPC_TIMEOUT_S = 30  # how long a report waits for `tuneforge storage serve` to answer


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


def safe_name(name: str) -> str:
    """A study name as one folder name: no separators, no ``..`` (it may come from a database)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "study"
