"""Optuna plumbing: sampler and pruner registries, storages by URL, heartbeats for asked trials.

Optuna's heartbeat only guards ``study.optimize``; our runner asks and tells (so a batch of
trials can train at once), so :class:`Heartbeat` records the heartbeats of the trials it asked
itself, and the runner calls ``optuna.storages.fail_stale_trials`` before asking: a trial whose
worker died (kill -9, a lost machine) is failed and, through Optuna's
``RetryHeartbeatStaleTrialCallback``, queued again with the same parameters.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import (
    BaseStorage,
    InMemoryStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tuneforge.config.tune_schema import PRUNER_NAMES, SAMPLER_NAMES
from tuneforge.errors import ConfigError, DataError

DEFAULT_STORAGE = "sqlite:///runs/studies.db"
JOURNAL_PREFIX = "journal:///"
#: Retries of one trial whose worker died; then it stays failed.
MAX_RETRY = 2


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence what Optuna says about features we rely on on purpose: heartbeat, retry, TPE's
    ``group`` and QMC are "experimental", and ``ask()`` warns that heartbeats need ``optimize()``
    (our :class:`Heartbeat` records them). A context, not a global filter: pytest resets those."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


# -------------------------------------------------------------------------------- samplers
class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus ``study.stop()`` when the grid is done: that only works inside
    ``study.optimize``; our runner asks :meth:`is_exhausted` before each trial instead, and
    :meth:`unstarted` while it asks a cohort's trials (past that, the grid hands out repeats)."""

    def __init__(self, search_space, seed: int | None = None):
        super().__init__(search_space, seed=seed)
        self.size = math.prod(len(values) for values in search_space.values())

    def after_trial(self, study, trial, state, values) -> None:
        return None

    def unstarted(self, study: optuna.Study) -> int:
        """Grid points no trial has taken yet (running or finished)."""
        taken = {t.system_attrs["grid_id"] for t in study.get_trials(deepcopy=False)
                 if "grid_id" in t.system_attrs and t.state != TrialState.FAIL}  # fmt: skip
        return self.size - len(taken)


SamplerFactory = Callable[[int | None, dict], optuna.samplers.BaseSampler]

#: name -> (factory(seed, grid), optimizes several objectives?)
SAMPLERS: dict[str, tuple[SamplerFactory, bool]] = {
    "grid": (lambda seed, grid: AskTellGridSampler(grid, seed=seed), True),
    "random": (lambda seed, grid: optuna.samplers.RandomSampler(seed=seed), True),
    # multivariate TPE models the parameters jointly; group=True keeps it valid when `when`
    # makes the space conditional; constant_liar spreads parallel workers apart.
    "tpe": (lambda seed, grid: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True, constant_liar=True), True),  # fmt: skip
    "cmaes": (lambda seed, grid: optuna.samplers.CmaEsSampler(
        seed=seed, warn_independent_sampling=False), False),  # fmt: skip
    "gp": (lambda seed, grid: optuna.samplers.GPSampler(
        seed=seed, warn_independent_sampling=False), True),  # fmt: skip
    "qmc": (lambda seed, grid: optuna.samplers.QMCSampler(
        seed=seed, warn_independent_sampling=False), True),  # fmt: skip
    "nsga2": (lambda seed, grid: optuna.samplers.NSGAIISampler(seed=seed), True),
}


# --------------------------------------------------------------------------------- pruners
@dataclass(frozen=True)
class PrunerSpec:
    """How to build a pruner, and at which steps it may decide (asking costs storage reads)."""

    make: Callable[[int], optuna.pruners.BasePruner]  # max_steps -> pruner
    decides_at: Callable[[int], bool] = lambda step: True


def _rung(step: int) -> bool:
    """Successive halving with min_resource 1 and reduction factor 3 decides at 1, 3, 9, 27..."""
    return step >= 1 and 3 ** round(math.log(step, 3)) == step


PRUNERS: dict[str, PrunerSpec] = {
    "none": PrunerSpec(lambda steps: optuna.pruners.NopPruner(), lambda step: False),
    "median": PrunerSpec(lambda steps: optuna.pruners.MedianPruner(n_startup_trials=5)),
    "asha": PrunerSpec(lambda steps: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3), _rung),  # fmt: skip
    "hyperband": PrunerSpec(lambda steps: optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=max(steps, 3), reduction_factor=3), _rung),  # fmt: skip
}
assert set(SAMPLERS) == set(SAMPLER_NAMES) and set(PRUNERS) == set(PRUNER_NAMES)


# --------------------------------------------------------------------------------- storage
class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal file storage with the heartbeat that only its RDB storage has.

    The heartbeat is a trial system attribute ``[trial number, unix time]``; the number keeps a
    retried copy (which inherits the attributes of the trial it retries) from looking stale.
    """

    KEY = "tuneforge:heartbeat"

    def __init__(self, backend, interval: int, callback) -> None:
        super().__init__(backend)
        self.interval, self.callback = interval, callback

    def record_heartbeat(self, trial_id: int) -> None:
        number = self.get_trial_number_from_id(trial_id)
        try:
            self.set_trial_system_attr(trial_id, self.KEY, [number, time.time()])
        except UpdateFinishedTrialError:
            pass  # the trial ended between two beats

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now, grace = time.time(), grace_period(self.interval)
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            number, beat = trial.system_attrs.get(self.KEY, [None, now])
            if number == trial.number and now - beat > grace:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.interval

    def get_heartbeat_stale_trial_callback(self):
        return self.callback


def grace_period(interval: int) -> int:
    """A trial is stale after three missed beats (Optuna's default is two; machines are busy)."""
    return 3 * interval


def open_storage(url: str | None, heartbeat: int | None = None, must_exist: bool = False) -> BaseStorage:
    """The storage behind a URL: ``sqlite:///file.db``, ``postgresql://...``, any SQLAlchemy URL
    Optuna's RDB storage takes, ``journal:///file.journal`` (a journal file), or None (memory)."""
    with quiet_optuna():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    if url is None or url == "memory":
        return InMemoryStorage()
    if url.startswith(JOURNAL_PREFIX):
        path = Path(url.removeprefix(JOURNAL_PREFIX))
        _prepare_file(path, url, must_exist)
        return HeartbeatJournalStorage(JournalFileBackend(str(path)), heartbeat or 10, retry)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        _prepare_file(Path(url.removeprefix("sqlite:///")), url, must_exist)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with quiet_optuna():
            return RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                              grace_period=grace_period(heartbeat) if heartbeat else None,
                              heartbeat_stale_trial_callback=retry if heartbeat else None)  # fmt: skip
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError as ImportError
        missing = _missing_module(exc)
        raise ConfigError(f"tune.storage: {_safe(url)} needs the {missing or 'database'} driver"
                          f"{_driver_hint(url, missing)}") from None  # fmt: skip
    except Exception as exc:  # SQLAlchemy raises many types for a bad URL or an unreachable server
        raise ConfigError(f"tune.storage: cannot open {_safe(url)} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]})") from None  # fmt: skip


def _missing_module(exc: BaseException | None) -> str | None:
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError):
            return exc.name
        exc = exc.__cause__ or exc.__context__
    return None


def _driver_hint(url: str, missing: str | None) -> str:
    if not url.startswith("postgres"):
        return ""
    if missing == "psycopg2":  # SQLAlchemy < 2.1 reads postgresql:// as psycopg2
        return ("; tuneforge[postgres] installs psycopg 3: write the URL as "
                "postgresql+psycopg://... to use it")  # fmt: skip
    return " (pip install 'tuneforge[postgres]')"


def _prepare_file(path: Path, url: str, must_exist: bool) -> None:
    if must_exist and not path.is_file():
        raise DataError(f"{url}: no study storage there (the file {path} does not exist)")
    path.parent.mkdir(parents=True, exist_ok=True)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    return f"{head.split(':')[0]}:***@{tail}" if at and "://" in head else url


def is_sqlite(url: str | None) -> bool:
    return bool(url) and url.startswith("sqlite")


# ------------------------------------------------------------------------------- heartbeat
class Heartbeat:
    """Beats for every trial this worker runs, from one background thread."""

    def __init__(self, storage: BaseStorage):
        self.storage = storage
        self.enabled = is_heartbeat_enabled(storage)
        self.trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.enabled:
            self.interval = storage.get_heartbeat_interval()
            self._thread = threading.Thread(target=self._beat, name="tuneforge-heartbeat", daemon=True)
            self._thread.start()

    def add(self, trial_id: int) -> None:
        """Start beating for a trial; the first beat is now (a trial with none is never stale)."""
        if self.enabled:
            self.storage.record_heartbeat(trial_id)
            with self._lock:
                self.trial_ids.add(trial_id)

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self.trial_ids.discard(trial_id)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                ids = list(self.trial_ids)
            for trial_id in ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # a storage hiccup: the next beat tries again
                    pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail (and queue again) the running trials whose worker stopped beating."""
    with quiet_optuna():
        optuna.storages.fail_stale_trials(study)
