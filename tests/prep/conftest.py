"""One intra-op thread: these tests run tiny tensors, and on a shared 2-core machine torch's
second OpenMP thread spins and waits (one backward of a 264×10 linear model: 0.1 ms alone, up to
10 ms contended)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
