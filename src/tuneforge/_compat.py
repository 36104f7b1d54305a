"""Every private torch / Optuna API tuneforge uses, behind one checked adapter.

A private name can move in any release. Each accessor here checks that what it needs exists and
has the shape we rely on; when it does not, it returns the public path (slower, or without a
feature) and records why with :func:`fall_back`: a warning once per reason, and the reason in
:func:`fallbacks`, which run summaries (``summary.json``) and trial user attributes carry.

What is private, and its public path:

- ``torch._fused_adam_`` / ``torch._fused_adamw_`` (the cohort's Adam step on a CPU, one kernel
  per member): the batched tensor ops of :class:`~tuneforge.engine.cohort.optim.CohortAdam`.
- ``optuna.storages._heartbeat.BaseHeartbeat`` and its abstract ``_get_stale_trial_ids`` (the
  journal file storage's heartbeat): a journal storage without heartbeats (a dead worker's
  trials stay RUNNING; RDB storages keep Optuna's own heartbeat).
- ``optuna.storages._heartbeat.is_heartbeat_enabled``: the public storage methods it reads.
- ``Study._storage`` and ``Trial._trial_id`` / ``FrozenTrial._trial_id``: the storage's public
  ``get_study_id_from_name`` and ``get_trial_id_from_study_id_trial_number``.
- GridSampler's ``grid_id`` trial system attribute (which grid point a trial took): the trial's
  parameters.

``tests/test_compat.py`` removes each private name and checks that the public path gives the
same numbers and records its reason; CI runs the fast suite on the oldest Optuna we admit.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

#: reason key -> the sentence shown and recorded
_FALLBACKS: dict[str, str] = {}


def fall_back(key: str, reason: str) -> None:
    """Record that a private API is unusable: warn once per ``key``, keep ``reason``."""
    if key not in _FALLBACKS:
        _FALLBACKS[key] = reason
        warnings.warn(f"tuneforge: {reason}", RuntimeWarning, stacklevel=3)


def fallbacks() -> dict[str, str]:
    """The fallbacks taken so far in this process (key -> reason)."""
    return dict(_FALLBACKS)


def reset_fallbacks() -> None:
    """Forget recorded fallbacks (tests)."""
    _FALLBACKS.clear()


# --- torch -------------------------------------------------------------------------------------


def fused_adam_kernels() -> tuple[Callable, Callable] | None:
    """``(torch._fused_adam_, torch._fused_adamw_)``, or None (the batched step is used)."""
    import torch

    kernels = getattr(torch, "_fused_adam_", None), getattr(torch, "_fused_adamw_", None)
    if all(callable(k) for k in kernels):
        return kernels  # type: ignore[return-value]
    fall_back("torch._fused_adam_", f"torch {torch.__version__} has no torch._fused_adam_/"
              "_fused_adamw_; cohort Adam steps use the batched tensor ops (slower on a CPU)")  # fmt: skip
    return None


# --- Optuna ------------------------------------------------------------------------------------

#: the abstract methods of Optuna's BaseHeartbeat that HeartbeatJournalStorage implements
HEARTBEAT_METHODS = frozenset({"record_heartbeat", "_get_stale_trial_ids",
                               "get_heartbeat_interval", "get_heartbeat_stale_trial_callback"})  # fmt: skip


def heartbeat_base() -> type | None:
    """Optuna's private ``BaseHeartbeat`` if its abstract methods are the ones we implement."""
    try:
        module = importlib.import_module("optuna.storages._heartbeat")
        base = module.BaseHeartbeat
    except (ImportError, AttributeError):
        reason = "optuna.storages._heartbeat.BaseHeartbeat is gone"
    else:
        if set(getattr(base, "__abstractmethods__", ())) == HEARTBEAT_METHODS:
            return base
        reason = "Optuna's BaseHeartbeat asks for other methods than tuneforge implements"
    fall_back("optuna.BaseHeartbeat", f"{reason}: the journal storage has no heartbeat, so a dead "
              "worker's trials stay RUNNING instead of being retried")  # fmt: skip
    return None


def is_heartbeat_enabled(storage: Any) -> bool:
    """Whether ``storage`` records heartbeats (Optuna's private helper, or the same test)."""
    try:
        helper = importlib.import_module("optuna.storages._heartbeat").is_heartbeat_enabled
    except (ImportError, AttributeError):
        fall_back("optuna.is_heartbeat_enabled", "optuna.storages._heartbeat.is_heartbeat_enabled "
                  "is gone: heartbeats are detected from the storage's public methods")  # fmt: skip
        return callable(getattr(storage, "record_heartbeat", None)) and (
            getattr(storage, "get_heartbeat_interval", lambda: None)() is not None
        )
    return helper(storage)


def study_storage(study: Any) -> Any | None:
    """The storage behind ``study`` (``Study._storage``), or None (no heartbeats then)."""
    storage = getattr(study, "_storage", None)
    if storage is None:
        fall_back("optuna.Study._storage", "optuna.Study has no _storage: this worker records no "
                  "heartbeats for its trials")  # fmt: skip
    return storage


def trial_id(trial: Any, storage: Any, study_name: str) -> int:
    """A trial's storage id (``_trial_id``), else looked up through the storage's public API."""
    found = getattr(trial, "_trial_id", None)
    if isinstance(found, int):
        return found
    fall_back("optuna.trial._trial_id", "Optuna trials have no _trial_id: trial ids are looked up "
              "in the storage (one more query per trial)")  # fmt: skip
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)


def grid_point(trial: Any) -> Any | None:
    """Which grid point a trial took: GridSampler's ``grid_id`` attribute, else its parameters
    (None while a trial has neither)."""
    attrs = trial.system_attrs
    if "grid_id" in attrs:
        return attrs["grid_id"]
    if "search_space" in attrs:  # GridSampler marked it but keeps the point elsewhere now
        fall_back("optuna.GridSampler.grid_id", "Optuna's GridSampler stores no grid_id: grid "
                  "points are told apart by the trials' parameters")  # fmt: skip
    return tuple(sorted(trial.params.items())) if trial.params else None
