"""Study storages by URL: journal files (the default), SQLite, PostgreSQL, a gRPC proxy, memory.

The default is the journal file ``runs/studies.journal`` (``tuneforge.tuning.journal``): on the
default study it costs a few percent of the search where SQLite through Optuna's RDB storage
doubled it (benchmarks/study_storage.py). Studies kept in ``runs/studies.db`` by earlier versions
are still found there (``tuneforge.tuning.plan``).
"""

from __future__ import annotations

from pathlib import Path

from optuna.storages import (
    BaseStorage,
    InMemoryStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)

from tuneforge._compat import heartbeat_base
from tuneforge.errors import ConfigError, DataError
from tuneforge.tuning.heartbeat import MAX_RETRY, grace_period
from tuneforge.tuning.journal import (
    BatchedJournalStorage,
    BatchedJournalStorageWithoutHeartbeat,
    JournalFile,
)
from tuneforge.tuning.proxy import GRPC_PREFIX, open_grpc_proxy
from tuneforge.tuning.quiet import quiet_optuna

DEFAULT_STORAGE = "journal:///runs/studies.journal"
#: Where studies were kept by default before the journal file: still searched and resumed.
LEGACY_STORAGE = "sqlite:///runs/studies.db"
JOURNAL_PREFIX = "journal:///"


def open_storage(url: str | None, heartbeat: int | None = None, must_exist: bool = False) -> BaseStorage:
    """The storage behind a URL: ``sqlite:///file.db``, ``postgresql://...``, any SQLAlchemy URL
    Optuna's RDB storage takes, ``journal:///file.journal`` (a journal file), ``grpc://host:port``
    (Optuna's storage proxy, tuning/proxy.py), or None (memory)."""
    with quiet_optuna():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    if url is None or url == "memory":
        return InMemoryStorage()
    if url.startswith(JOURNAL_PREFIX):
        path = Path(url.removeprefix(JOURNAL_PREFIX))
        _prepare_file(path, url, must_exist)
        if heartbeat_base() is None:  # Optuna's private heartbeat base moved (reason recorded)
            return BatchedJournalStorageWithoutHeartbeat(JournalFile(str(path)))
        return BatchedJournalStorage(JournalFile(str(path)), heartbeat or 10, retry)
    if url.startswith(GRPC_PREFIX):
        return open_grpc_proxy(url, heartbeat, retry)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        _prepare_file(Path(url.removeprefix("sqlite:///")), url, must_exist)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with quiet_optuna():
            storage = RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                                 grace_period=grace_period(heartbeat) if heartbeat else None,
                                 heartbeat_stale_trial_callback=retry if heartbeat else None)  # fmt: skip
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError as ImportError
        missing = _missing_module(exc)
        raise ConfigError(f"tune.storage: {safe_url(url)} needs the {missing or 'database'} driver"
                          f"{_driver_hint(url, missing)}") from None  # fmt: skip
    except Exception as exc:  # SQLAlchemy raises many types for a bad URL or an unreachable server
        raise ConfigError(f"tune.storage: cannot open {safe_url(url)} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]})") from None  # fmt: skip
    if is_sqlite(url):
        _write_ahead(storage)
    return storage


def _write_ahead(storage: RDBStorage) -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL``: a commit no longer waits for the disk
    (a killed process loses nothing; a power cut may lose the last commits), which took a
    third off SQLite's cost in benchmarks/study_storage.py. Set on every new connection."""
    from sqlalchemy import event

    def pragmas(connection, record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # the connection Optuna opened to create the tables lacks them


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


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    return f"{head.split(':')[0]}:***@{tail}" if at and "://" in head else url


def is_sqlite(url: str | None) -> bool:
    return bool(url) and url.startswith("sqlite")
