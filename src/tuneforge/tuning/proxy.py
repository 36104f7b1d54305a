"""Optuna's gRPC storage proxy: one server holds the database connections, workers talk gRPC.

Past a few hundred workers, PostgreSQL's connection limit and every worker's reads of the whole
study become the bottleneck; Optuna's answer (v4.2+) is ``run_grpc_proxy_server`` in front of an
RDB storage and ``GrpcStorageProxy`` in the workers, whose client cache re-reads only the trials
that changed. ``tuneforge storage serve`` runs the server; workers pass ``grpc://host:port``.

The proxy has no heartbeat (``GrpcStorageProxy`` is no ``BaseHeartbeat``, and the server's
storage cannot beat for trials it does not run), so :class:`HeartbeatGrpcStorageProxy` keeps
the heartbeat in a trial system attribute, as tuneforge does for the journal file: a killed
worker's trials are failed and retried through the proxy like on PostgreSQL directly.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import urlsplit

from optuna.storages import BaseStorage, GrpcStorageProxy

from tuneforge.errors import ConfigError
from tuneforge.tuning.heartbeat import AttrHeartbeat
from tuneforge.tuning.quiet import quiet_optuna

GRPC_PREFIX = "grpc://"
#: What the proxy can serve: Optuna's RDB storage (its journal support is optuna#6084).
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")
#: How long a worker waits for the proxy server before giving up with a clear message.
CONNECT_TIMEOUT_S = 30


class HeartbeatGrpcStorageProxy(AttrHeartbeat, GrpcStorageProxy):
    """Optuna's gRPC proxy client with tuneforge's attribute heartbeat."""

    def __init__(self, host: str, port: int, interval: int, callback) -> None:
        super().__init__(host=host, port=port)
        self.interval, self.callback = interval, callback


def grpc_address(url: str) -> tuple[str, int]:
    """``grpc://host:port`` -> (host, port); a one-line ConfigError for anything else."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ConfigError(f"tune.storage: {url} is not a gRPC proxy address; expected "
                          "grpc://HOST:PORT (the address `tuneforge storage serve` prints)")  # fmt: skip
    return parts.hostname, port


def require_grpcio(key: str) -> None:
    """A one-line error naming the extra, instead of Optuna's lazy import failing mid-run."""
    if importlib.util.find_spec("grpc") is None:
        raise ConfigError(f"{key}: the gRPC storage proxy needs grpcio: pip install 'tuneforge[grpc]'")


def open_grpc_proxy(url: str, heartbeat: int | None, callback) -> BaseStorage:
    """A client of the proxy at ``url``, once the server answers (ConfigError if it never does)."""
    host, port = grpc_address(url)
    require_grpcio("tune.storage")
    with quiet_optuna():  # GrpcStorageProxy is "experimental"
        if heartbeat:
            storage = HeartbeatGrpcStorageProxy(host, port, heartbeat, callback)
        else:
            storage = GrpcStorageProxy(host=host, port=port)
    try:
        storage.wait_server_ready(timeout=CONNECT_TIMEOUT_S)
    except ConnectionError:
        storage.close()
        raise ConfigError(f"tune.storage: no gRPC storage proxy answers at {url} (waited "
                          f"{CONNECT_TIMEOUT_S} s); start one with `tuneforge storage serve`") from None  # fmt: skip
    return storage

