"""A :class:`~tuneforge.data.Dataset` straight from in-memory arrays (the scikit-learn estimators).

The encoding is the one :func:`~tuneforge.data.prepare` fits for a file: ``fit_encoder`` with
every column numeric, statistics from the training rows only, labels through a ``LabelEncoder``.
So a model trained from arrays sees exactly the tensors ``tuneforge train`` would build from the
same rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from tuneforge.data.prep import Encoder, fit_encoder
from tuneforge.errors import DataError


def from_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    task: str,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    *,
    standardize: bool = True,
    standardize_target: bool = True,
    classes: Sequence | None = None,
    encoder: Encoder | None = None,
    feature_names: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
):
    """Encode numeric arrays into a ``Dataset`` with ``train``, ``val`` and an empty ``test`` part.

    Args:
        x_train: numeric features, shape ``(n, d)``.
        y_train: targets, shape ``(n,)``: any labels for classification, numbers for regression.
        task: ``"classification"`` or ``"regression"``.
        x_val, y_val: optional validation rows (used by early stopping and plateau schedules).
        standardize: scale features to mean 0 and variance 1 (fitted on ``x_train``).
        standardize_target: regression only: train on ``(y - mean) / std`` of ``y_train``.
        classes: the full label set when ``y_train`` may not show every class (``partial_fit``).
        encoder: an already fitted encoder to apply instead of fitting a new one.
        feature_names: column names (default ``x0, x1, ...``); saved with the encoder.
        device: where the tensors go.

    Example:
        >>> import numpy as np
        >>> data = from_arrays(np.eye(4), np.array(["a", "b", "a", "b"]), "classification")
        >>> data.classes, data.size("train"), data.size("val")
        (['a', 'b'], 4, 0)
    """
    from tuneforge.data import Dataset  # the package imports this module

    x_val = x_train[:0] if x_val is None else x_val
    y_val = y_train[:0] if y_val is None else y_val
    x = _features(np.concatenate([x_train, x_val]), feature_names)
    labels = np.concatenate([y_train, y_val])
    y = pd.Series(labels)
    rows = {"train": np.arange(len(x_train)), "val": np.arange(len(x_train), len(x)),
            "test": np.arange(0)}  # fmt: skip
    if encoder is None:
        encoder = fit_encoder(x, y, rows["train"], task, [], None, standardize, standardize_target)
        if task == "classification":
            from sklearn.preprocessing import LabelEncoder

            # Fitted on numpy labels, not the pandas Series, so classes keep y's dtype ("<U3").
            encoder.labels = LabelEncoder().fit(labels if classes is None else np.asarray(classes))
    features = encoder.transform(x, "X")
    targets = _encode_target(encoder, y)
    tensors_x = {part: torch.as_tensor(features[idx], device=device) for part, idx in rows.items()}
    tensors_y = {part: torch.as_tensor(targets[idx], device=device) for part, idx in rows.items()}
    return Dataset(task, encoder, tensors_x, tensors_y, list(x.columns), rows)


def _features(x: np.ndarray, names: Sequence[str] | None) -> pd.DataFrame:
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"X: expected a 2-D numeric array, got shape {x.shape} of {x.dtype}")
    columns = list(names) if names is not None else [f"x{i}" for i in range(x.shape[1])]
    return pd.DataFrame(x, columns=columns)


def _encode_target(encoder: Encoder, y: pd.Series) -> np.ndarray:
    if encoder.labels is None:
        return encoder.encode_target(y)
    unseen = y[~y.isin(encoder.labels.classes_)].unique()
    if len(unseen):
        raise DataError(f"y: labels {unseen.tolist()} are not among the classes "
                        f"{encoder.labels.classes_.tolist()}")  # fmt: skip
    return encoder.encode_target(y)
