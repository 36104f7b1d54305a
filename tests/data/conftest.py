"""Small data files made inside each test's tmp_path (no shipped fixtures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny tensors: one thread is fastest, and the test machines are shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Two numeric columns, a text column and a text label that depends on all three."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "weight": rng.normal(70, 15, n),
            "color": rng.choice(["red", "green", "blue"], n),
        }
    )
    score = (frame.height - 170) / 10 + (frame.color == "red") * 1.5
    frame["species"] = np.where(score > 0.8, "tall", np.where(score > -0.5, "mid", "short"))
    return frame


@pytest.fixture
def frame_factory():
    """``make_frame`` for tests that build their own file from it."""
    return make_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def csv_file(tmp_path, frame):
    path = tmp_path / "animals.csv"
    frame.to_csv(path, index=False)
    return path
