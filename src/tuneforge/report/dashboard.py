"""``tuneforge dashboard``: optuna-dashboard (an optional extra) on a study storage, on loopback.

We build optuna-dashboard's WSGI app and serve it with the standard library's server ourselves,
rather than calling ``run_server``, so that the command can print the real URL (``--port 0``
picks a free port), bind 127.0.0.1 by default, and stop cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tuneforge.report.study import open_storage

INSTALL = "pip install 'tuneforge[dashboard]'  (or: pip install optuna-dashboard)"


class MissingExtra(RuntimeError):
    """An optional package the command needs is not installed."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # one line per request is noise here
        return None


def make_dashboard(storage_url: str, host: str = "127.0.0.1", port: int = 8080) -> WSGIServer:
    """A bound (not yet serving) HTTP server with optuna-dashboard's app on the storage."""
    if importlib.util.find_spec("optuna_dashboard") is None:
        raise MissingExtra(f"tuneforge dashboard needs optuna-dashboard, which is not installed: {INSTALL}")
    from optuna_dashboard import wsgi

    app = wsgi(open_storage(storage_url))
    return make_server(host, port, app, handler_class=_QuietHandler)


def serve(server: WSGIServer, ready: Callable[[str], None] = print) -> None:
    """Serve until interrupted (KeyboardInterrupt), then stop the loop and close the socket.

    The server runs in a thread and the main thread only waits: a signal that arrived while a
    request was being answered would otherwise be swallowed by wsgiref's catch-all handler.
    """
    host, port = server.server_address[:2]
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="dashboard", daemon=True)  # fmt: skip
    worker.start()
    ready(f"http://{host}:{port}/dashboard/")
    try:
        while worker.is_alive():
            worker.join(0.5)
    finally:
        server.shutdown()
        server.server_close()
