from __future__ import annotations

import pytest
import torch
from user_code import forget, write_module


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def nets(tmp_path, monkeypatch):
    """The name of the user's module, written into tmp_path, which is the working directory."""
    monkeypatch.chdir(tmp_path)
    name = write_module(tmp_path)
    yield name
    forget(name)
