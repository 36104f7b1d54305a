"""``tuneforge storage serve``: Optuna's gRPC storage proxy in front of a study database."""

from __future__ import annotations

from typing import Annotated

import typer

from tuneforge.cli.common import console, stop_on_signals

storage_app = typer.Typer(no_args_is_help=True, help="Serve a study storage to many workers.")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@storage_app.command("serve")
def serve(
    storage: Annotated[str, typer.Option(help="RDB storage URL to serve, e.g. postgresql://user@db/tuning")],
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 for workers on other machines.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port workers connect to.")] = 13000,
) -> None:
    """Run Optuna's gRPC storage proxy; workers pass --storage grpc://HOST:PORT. Ctrl-C stops it."""
    from tuneforge.tuning.proxy_server import serve_proxy
    from tuneforge.tuning.storage import safe_url

    if host not in LOOPBACK:  # the proxy has no authentication: whoever reaches it can write
        console.print(f"[yellow]warning:[/] serving on {host}: anyone who can reach the port can "
                      "read and change every study in the database (gRPC without TLS or auth)")  # fmt: skip
    stop_on_signals()
    ready = lambda: print(f"gRPC storage proxy for {safe_url(storage)} on grpc://{host}:{port} "  # noqa: E731
                          "(Ctrl-C stops it)", flush=True)  # fmt: skip
    try:
        serve_proxy(storage, host, port, ready)
    except KeyboardInterrupt:
        console.print("storage proxy stopped")

