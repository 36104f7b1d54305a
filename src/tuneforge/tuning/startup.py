"""Open a worker's storage and study safely when many workers start at the same instant.

A job array starts N workers together on a fresh database. Optuna's RDB storage creates its
tables on first use (``metadata.create_all``, then its version row and alembic's table), and
two sessions doing that at once on PostgreSQL make one of them fail: ``UniqueViolation`` on
``pg_type_typname_nsp_index`` or ``DuplicateTable`` (optuna#1092; Optuna's advice is to create
the study before starting workers, which is exactly what a fleet launcher cannot do). So each
worker takes a lock for the few milliseconds of opening the storage and creating or loading
the study: on PostgreSQL a session advisory lock (held by the server, released if the worker
dies), on a journal file an exclusive ``flock`` on the journal itself (released by the kernel
with the process). Other storages need none: SQLite refuses parallel workers, and the gRPC
proxy's server created the tables before it started listening.

A lock rather than a retry on errors: every worker waits at most the time the others take to
open, no error is ever caught by mistake, and Optuna's version row (which has no unique key)
cannot be written twice.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna

from tuneforge.errors import ConfigError
from tuneforge.tuning.plan import StudyPlan
from tuneforge.tuning.runner import open_study
from tuneforge.tuning.storage import JOURNAL_PREFIX, open_storage, safe_url

#: pg_advisory_lock key of storage and study creation: "tunefrg" as a signed 64-bit integer;
#: any fixed number works, it only has to differ from other applications' keys on the database.
ADVISORY_KEY = 0x74756E6566726700


def open_worker_study(plan: StudyPlan, worker: int = 0) -> optuna.Study:
    """Open ``plan``'s storage and create or load its study, serialized with other workers."""
    with setup_lock(plan.storage):
        storage = open_storage(plan.storage, plan.tune.heartbeat)
        return open_study(plan, storage, worker=worker)


@contextmanager
def setup_lock(url: str | None) -> Iterator[None]:
    """Held while a worker opens a storage and its study; see the module docstring."""
    if url is not None and url.startswith("postgresql"):
        with _advisory_lock(url):
            yield
    elif url is not None and url.startswith(JOURNAL_PREFIX):
        with _file_lock(Path(url.removeprefix(JOURNAL_PREFIX))):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    import sqlalchemy

    try:  # its own short-lived connection: Optuna's engine does not exist yet
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        connection = engine.connect()
    except Exception as exc:  # the same failures open_storage reports: driver, server, URL
        raise ConfigError(f"tune.storage: cannot open {safe_url(url)} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]})") from None  # fmt: skip
    try:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
        yield
    finally:
        connection.close()  # ends the session, which releases its advisory locks
        engine.dispose()


@contextmanager
def _file_lock(journal: Path) -> Iterator[None]:
    """flock the journal file itself: Optuna's own journal lock is a symlink, never an flock,
    so the two cannot interfere, and no extra file is left behind."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(journal, "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
