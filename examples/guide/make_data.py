"""Write the data sets of the guide's worked examples as CSV files (seeded: always the same rows).

    python examples/guide/make_data.py            # writes examples/guide/data/*.csv
    python examples/guide/make_data.py --out DIR  # writes DIR/*.csv

Each recipe in examples/guide/ reads one of these files as ``data.source`` (a path relative to
the folder you run tuneforge in: the repository root). Features are columns ``x1, x2, ...``,
targets ``y`` (or ``y1, y2, y3``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    columns = {f"x{j + 1}": x[:, j] for j in range(x.shape[1])}
    if y.ndim == 1:
        columns["y"] = y
    else:
        columns |= {f"y{j + 1}": y[:, j] for j in range(y.shape[1])}
    return pd.DataFrame(columns)


def line(n: int = 100, seed: int = 0) -> pd.DataFrame:
    """(a) one feature, y = 2x + 1 + noise (σ = 0.1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    return _frame(x, 2.0 * x[:, 0] + 1.0 + 0.1 * rng.normal(size=n))


def origin_plane(n: int = 50, seed: int = 1) -> pd.DataFrame:
    """(b) and (e) three features, y = x·w through the origin (no intercept) + noise (σ = 0.1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return _frame(x, x @ np.array([1.5, -2.0, 0.5]) + 0.1 * rng.normal(size=n))


def two_to_three(n: int = 100, seed: int = 2) -> pd.DataFrame:
    """(c) two features, three targets: Y = X·W + b + noise (σ = 0.1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    w = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -1.5]])
    return _frame(x, x @ w + np.array([0.5, -0.5, 1.0]) + 0.1 * rng.normal(size=(n, 3)))


def dense(n: int = 200, seed: int = 3) -> pd.DataFrame:
    """(d) four features, y = x·w + b + noise (σ = 0.2); 200 rows, so batches of 32 end short."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 4))
    return _frame(x, x @ np.array([0.8, -0.4, 1.2, 0.3]) - 0.7 + 0.2 * rng.normal(size=n))


#: file name -> generator; the recipes name these files.
DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "line.csv": line,
    "origin_plane.csv": origin_plane,
    "two_to_three.csv": two_to_three,
    "dense.csv": dense,
}


def write_all(folder: Path = HERE / "data") -> list[Path]:
    """Write every data set into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in DATASETS.items():
        make().to_csv(folder / name, index=False)  # full float64 precision (repr)
        paths.append(folder / name)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data", help="folder for the CSV files")
    for path in write_all(parser.parse_args().out):
        print(f"wrote {path}")
