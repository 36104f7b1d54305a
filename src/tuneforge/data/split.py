"""Holdout and k-fold row indices: seeded, stratified for classes (scikit-learn underneath)."""

from __future__ import annotations

import math

import numpy as np

from tuneforge.errors import DataError


def holdout(
    y: np.ndarray, task: str, val: float, test: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split row indices into train, validation and test parts.

    ``val`` and ``test`` are fractions of all rows. Classes keep their proportions in every part.
    """
    rows = np.arange(len(y))
    rest, test_rows = _split(rows, y, task, _count(test, len(y)), seed)
    train_rows, val_rows = _split(rest, y[rest], task, _count(val, len(y)), seed + 1)
    return train_rows, val_rows, test_rows


def _count(fraction: float, n: int) -> int:
    """Rows for a fraction of ``n``, rounded up like scikit-learn, but from exact arithmetic.

    Passing ``val / (1 - test)`` as a float made 0.2 of 100 rows 21 (0.2/0.7·70 = 20.000…04).
    """
    return math.ceil(round(fraction * n, 9))


def kfold(y: np.ndarray, task: str, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (train, validation) index pairs over ``y``'s positions."""
    if folds < 2:
        raise DataError(f"data.folds: expected at least 2 folds, got {folds}")
    if folds > len(y):
        raise DataError(f"data.folds: {folds} folds need at least {folds} rows, got {len(y)}")
    if task == "classification":
        smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
        if smallest < folds:
            raise DataError(f"data.folds: {folds} folds but the rarest class has {smallest} rows")
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        from sklearn.model_selection import KFold

        splitter = KFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _split(rows: np.ndarray, y: np.ndarray, task: str, count: int, seed: int):
    if count <= 0:
        return rows, rows[:0]
    if count >= len(rows):
        plural = "" if len(rows) == 1 else "s"
        raise DataError(f"data.split: too few rows to split ({len(rows)} sample{plural}, "
                        f"{count} to hold out)")  # fmt: skip
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" else None
    try:
        return train_test_split(rows, test_size=count, random_state=seed, stratify=stratify)
    except ValueError as exc:  # e.g. a class with a single row cannot be stratified
        raise DataError(f"data.split: cannot split {len(rows)} rows ({exc})") from None
