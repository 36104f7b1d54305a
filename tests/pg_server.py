"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries, a temp dir, loopback.

``initdb`` refuses to run as root, so under root the cluster is owned by the ``postgres`` system
user the Debian package creates. Tests using the fixture skip, with the reason, where the server
binaries are missing (``.ci/run`` installs them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """``postgresql://`` URL of a fresh database on a private server, stopped on exit.

    Also used outside pytest (benchmarks/storage_throughput.py).
    """
    bindir = _server_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not installed (Debian package 'postgresql')")
    # Not under pytest's tmp dir: that one is private to the test user, and the server runs as
    # the postgres user under root.
    root = Path(tempfile.mkdtemp(prefix="tuneforge-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "tuneforge", "--no-sync")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tuneforge", "tuneforge")
        yield f"postgresql://tuneforge@127.0.0.1:{port}/tuneforge"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway server for the test session; skips, with the reason, where it cannot run."""
    if _server_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package 'postgresql')")
    pytest.importorskip("psycopg", reason="psycopg 3 is needed for postgresql:// URLs")
    with throwaway_postgres() as url:
        yield url
