"""One context that silences what Optuna says about features tuneforge relies on on purpose."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from optuna.exceptions import ExperimentalWarning


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence what Optuna says about features we rely on on purpose: heartbeat, retry, TPE's
    ``group`` and QMC are "experimental", and ``ask()`` warns that heartbeats need ``optimize()``
    (our :class:`Heartbeat` records them). A context, not a global filter: pytest resets those."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield
