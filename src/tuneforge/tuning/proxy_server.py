"""The server side of Optuna's gRPC storage proxy (``tuneforge storage serve``).

Apart from the client (``tuning/proxy.py``) because it opens storages the way workers do
(``tuning/startup.py``), while the storage module opens the client.
"""

from __future__ import annotations

from collections.abc import Callable

from tuneforge.errors import ConfigError
from tuneforge.tuning.proxy import RDB_SCHEMES, require_grpcio
from tuneforge.tuning.quiet import quiet_optuna
from tuneforge.tuning.startup import setup_lock
from tuneforge.tuning.storage import open_storage


def serve_proxy(storage_url: str, host: str, port: int, ready: Callable[[], None]) -> None:
    """Run Optuna's proxy server on an RDB storage until interrupted (KeyboardInterrupt).

    ``get_storage`` wraps the RDB storage in Optuna's in-process cache, as Optuna's docs advise
    for the server. Tables are created here, once, before any worker connects; ``ready`` is
    called just before the server binds and starts.
    """
    from optuna.storages import get_storage, run_grpc_proxy_server

    if not storage_url.startswith(RDB_SCHEMES):
        raise ConfigError(f"--storage: {storage_url}: the gRPC proxy serves an RDB storage only "
                          "(postgresql://..., mysql://...); Optuna does not proxy journal files")  # fmt: skip
    require_grpcio("storage serve")
    with setup_lock(storage_url):  # workers may be opening the same fresh database directly
        storage = get_storage(open_storage(storage_url))  # open_storage: our one-line errors
    ready()
    try:
        with quiet_optuna():
            run_grpc_proxy_server(storage, host=host, port=port)
    except RuntimeError as exc:  # grpc: "Failed to bind to address ..."
        if "bind" not in str(exc).lower():
            raise
        raise ConfigError(f"--port: cannot listen on {host}:{port} ({exc})") from None
