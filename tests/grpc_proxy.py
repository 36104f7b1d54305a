"""``grpc_storage``: `tuneforge storage serve` on a fresh database of the throwaway PostgreSQL,
and ``fresh_database`` for tests that need a database without Optuna's tables."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pg_server import _free_port

_databases = itertools.count()


def fresh_database(server_url: str) -> str:
    """A new empty database (no Optuna tables) on the throwaway server; its URL."""
    import psycopg  # the postgres_url fixture has checked that it is installed

    name = f"fresh_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def grpc_storage(postgres_url) -> Iterator[tuple[str, str]]:
    """(``grpc://127.0.0.1:PORT``, the database URL behind it): a real proxy server process."""
    pytest.importorskip("grpc", reason="the gRPC proxy needs grpcio (tuneforge[grpc])")
    database, port = fresh_database(postgres_url), _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tuneforge", "storage", "serve", "--storage",
                               database, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = server.stdout.readline()  # printed once the storage is open, just before binding
    assert f"grpc://127.0.0.1:{port}" in line, server.stderr.read()
    try:
        yield f"grpc://127.0.0.1:{port}", database
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()
