"""The default study storage: Optuna's journal file, with fewer and cheaper writes.

Measured on the default study replayed without training (``benchmarks/study_storage.py``):
Optuna's RDB storage over SQLite spends 20-30x the in-memory storage's CPU time (SQLAlchemy's
ORM on every report, attribute and read), and Optuna's journal file pays a lock, a write and an
``fsync`` for each of ~1,500 operations. Two changes make the journal nearly free:

- :class:`JournalFile` syncs the file to disk (``fsync``) when a study is created and when a
  trial finishes, at most once a second (a cohort's 16 trials finish together; each sync cost
  ~15 ms on the shared test machine). Every log is still written to the file before the call
  returns, so a killed process (``kill -9``, Ctrl-C) loses nothing; a power cut or OS crash can
  lose what was written since the last sync: at most the last second's finished trials.
- :class:`BatchedJournalStorage` holds a running trial's intermediate values and user attributes
  in memory and appends them, in order, in the same write as the next operation that is not one
  of those (a rung's pruning decision, a heartbeat, the trial's state), or before any read. Every
  reader in this process sees them at once; other workers see them at this worker's next write
  or read, i.e. at the latest when it next decides at a rung or tells a trial. A finished
  trial's values and attributes are always in the file before its state.

Both lean on two methods of Optuna's ``JournalStorage`` (``_write_log``, ``_sync_with_backend``);
tests/tune/test_storage.py checks the file they write is one Optuna itself reads back.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.storages.journal._file import get_lock_file
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import TrialState

from tuneforge.tuning.heartbeat import HeartbeatJournalStorage

_FINISHED = {state.value for state in TrialState if state.is_finished()}
#: Writes that may wait for the next write or read of this process.
_DEFERRED = {JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE, JournalOperation.SET_TRIAL_USER_ATTR}


class JournalFile(JournalFileBackend):
    """Optuna's journal file backend, syncing to disk only for a new study or a finished trial.

    The same lock and line format as Optuna's (its ``append_logs`` with the ``fsync`` made
    conditional), so Optuna, optuna-dashboard and other workers read the file unchanged.
    """

    #: Seconds between two syncs for finished trials (a new study always syncs).
    SYNC_EVERY = 1.0

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        self._synced_at = -math.inf

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
        with get_lock_file(self._lock):
            with open(self._file_path, "ab") as f:
                f.write(data)
                f.flush()
                if self._must_sync(logs):
                    os.fsync(f.fileno())
                    self._synced_at = time.monotonic()

    def _must_sync(self, logs: list[dict[str, Any]]) -> bool:
        """A new study, or a trial's end (and the logs before it) once ``SYNC_EVERY`` is over."""
        if any(log["op_code"] == JournalOperation.CREATE_STUDY for log in logs):
            return True
        finished = any(log["op_code"] == JournalOperation.SET_TRIAL_STATE_VALUES
                       and log["state"] in _FINISHED for log in logs)  # fmt: skip
        return finished and time.monotonic() - self._synced_at >= self.SYNC_EVERY


class _BatchedWrites:
    """Appends a journal storage's reports and user attributes in batches (mixed in first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending: list[dict[str, Any]] = []  # Optuna's __init__ already reads the file
        super().__init__(*args, **kwargs)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._defer(JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE,
                    {"trial_id": trial_id, "step": step, "intermediate_value": intermediate_value})  # fmt: skip

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._defer(JournalOperation.SET_TRIAL_USER_ATTR, {"trial_id": trial_id, "user_attr": {key: value}})

    def flush(self) -> None:
        """Append the held writes now (the next write or read would)."""
        with self._thread_lock:
            self._sync_with_backend()

    def _defer(self, op_code: int, fields: dict[str, Any]) -> None:
        assert op_code in _DEFERRED
        json.dumps(fields)  # a value the file cannot hold fails here, in the caller, as Optuna's
        with self._thread_lock:
            self._pending.append({"op_code": op_code, "worker_id": self._replay_result.worker_id, **fields})

    def _write_log(self, op_code: int, extra_fields: dict[str, Any]) -> None:
        log = {"op_code": op_code, "worker_id": self._replay_result.worker_id, **extra_fields}
        logs, self._pending = [*self._pending, log], []
        self._backend.append_logs(logs)

    def _sync_with_backend(self) -> None:
        if self._pending:
            logs, self._pending = self._pending, []
            self._backend.append_logs(logs)
        super()._sync_with_backend()


class BatchedJournalStorage(_BatchedWrites, HeartbeatJournalStorage):
    """The journal storage, with heartbeats, that appends reports and user attributes in batches."""


class BatchedJournalStorageWithoutHeartbeat(_BatchedWrites, JournalStorage):
    """The same without heartbeats: when Optuna's private heartbeat base is gone
    (tuneforge/_compat.py records why; a dead worker's trials then stay RUNNING)."""
