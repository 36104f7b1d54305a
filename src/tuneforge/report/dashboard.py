"""``tuneforge dashboard``: optuna-dashboard (an optional extra) on a study storage, on loopback.

We build optuna-dashboard's WSGI app and serve it with the standard library's server ourselves,
rather than calling ``run_server``, so that the command can print the real URL (``--port 0``
picks a free port), bind 127.0.0.1 by default, and close the socket on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import importlib.util
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
    """Serve until interrupted (KeyboardInterrupt), then close the socket."""
    host, port = server.server_address[:2]
    ready(f"http://{host}:{port}/dashboard/")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
