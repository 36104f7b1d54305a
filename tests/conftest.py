"""Shared fixtures: one torch thread for every test, and a throwaway PostgreSQL server.

One intra-op thread: the tests run tiny tensors, and on a shared 2-core machine torch's second
OpenMP thread spins and waits (one backward of a 264×10 linear model: 0.1 ms alone, up to 10 ms
contended).
"""

from __future__ import annotations

import sys

import pytest
import torch

from cli_result import Result
from grpc_proxy import grpc_storage  # noqa: F401  (re-exported as a fixture)
from pg_server import postgres_url  # noqa: F401  (re-exported as a fixture)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """``cli(*args)``: the console entry point called in this process, from ``tmp_path``."""
    from tuneforge.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tuneforge", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
