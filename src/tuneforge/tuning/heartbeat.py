"""Heartbeats for asked trials, so a dead worker's trials are failed and retried.

Optuna's heartbeat only guards ``study.optimize``; our runner asks and tells (so a batch of
trials can train at once), so :class:`Heartbeat` records the heartbeats of the trials it asked
itself, and the runner calls ``optuna.storages.fail_stale_trials`` before asking: a trial whose
worker died (kill -9, a lost machine) is failed and, through Optuna's
``RetryHeartbeatStaleTrialCallback``, queued again with the same parameters. The journal file
storage and the gRPC proxy have no heartbeat of their own: :class:`AttrHeartbeat` adds one.
"""

from __future__ import annotations

import threading
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage
from optuna.trial import TrialState

from tuneforge._compat import heartbeat_base, is_heartbeat_enabled
from tuneforge.tuning.quiet import quiet_optuna

#: Retries of one trial whose worker died; then it stays failed.
MAX_RETRY = 2


def grace_period(interval: int) -> int:
    """A trial is stale after three missed beats (Optuna's default is two; machines are busy)."""
    return 3 * interval


#: Optuna's private heartbeat base class, checked by the adapter (None: no attribute heartbeat;
#: the reason is recorded by tuneforge._compat)
_BaseHeartbeat = heartbeat_base()


class AttrHeartbeat(*([_BaseHeartbeat] if _BaseHeartbeat else [])):
    """Optuna's heartbeat protocol on any storage, kept in a trial system attribute.

    For the storages without a heartbeat of their own: the journal file and the gRPC proxy
    (``GrpcStorageProxy`` implements no ``BaseHeartbeat``). Mixed in before the storage class.
    The heartbeat is ``[trial number, unix time]``; the number keeps a retried copy (which
    inherits the attributes of the trial it retries) from looking stale. Clocks: the beat is
    the worker's time and staleness is judged by the reader's, so machines need NTP-synced
    clocks to within a fraction of the grace period (3 beats).
    """

    KEY = "tuneforge:heartbeat"
    interval: int
    callback: object

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
                stale.append(self.get_trial_id_from_study_id_trial_number(study_id, trial.number))
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.interval

    def get_heartbeat_stale_trial_callback(self):
        return self.callback


class HeartbeatJournalStorage(AttrHeartbeat, JournalStorage):
    """Optuna's journal file storage with the heartbeat that only its RDB storage has."""

    def __init__(self, backend, interval: int, callback) -> None:
        super().__init__(backend)
        self.interval, self.callback = interval, callback


class Heartbeat:
    """Beats for every trial this worker runs, from one background thread."""

    def __init__(self, storage: BaseStorage | None):
        self.storage = storage
        self.enabled = storage is not None and is_heartbeat_enabled(storage)
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
