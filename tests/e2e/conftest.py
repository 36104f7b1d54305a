"""Helpers to run the ``tuneforge`` command: in a real subprocess, or in-process (faster)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cli_result import Result, cli_command, cli_env


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny tensors: one thread is fastest, and the test machines are shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run_cli():
    """``run_cli(*args, cwd=...)``: ``python -m tuneforge ARGS`` in a subprocess."""

    def run(*args, cwd: Path, timeout: float = 300) -> Result:
        done = subprocess.run(cli_command(*args), cwd=cwd, env=cli_env(), capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def start_cli():
    """``start_cli(*args, cwd=...)``: a running ``python -m tuneforge ARGS`` (a Popen) to kill."""

    def start(*args, cwd: Path) -> subprocess.Popen:
        return subprocess.Popen(cli_command(*args), cwd=cwd, env=cli_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    return start




def animals(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Numeric and text features and a text label the features explain."""
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
def animals_csv(tmp_path) -> Path:
    path = tmp_path / "animals.csv"
    animals().to_csv(path, index=False)
    return path


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
