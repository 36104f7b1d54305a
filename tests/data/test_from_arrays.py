"""``tuneforge.data.from_arrays``: the same tensors ``prepare`` builds from the same rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_iris

from tuneforge.config import load_config
from tuneforge.data import from_arrays, prepare
from tuneforge.errors import DataError


@pytest.mark.parametrize(("source", "loader"), [("iris", load_iris), ("diabetes", load_diabetes)])
def test_from_arrays_matches_prepare_on_the_same_split(source, loader):
    cfg = load_config(overrides=[f"data.source={source}", "data.split.test=0", "data.split.val=0.3"])
    reference = prepare(cfg.data)
    X, y = loader(return_X_y=True)
    train, val = reference.rows["train"], reference.rows["val"]
    data = from_arrays(X[train], y[train], reference.task, X[val], y[val])
    for part in ("train", "val", "test"):
        torch.testing.assert_close(data.x[part], reference.x[part], rtol=0, atol=0)
        torch.testing.assert_close(data.y[part], reference.y[part], rtol=0, atol=0)
    assert data.classes == reference.classes
    assert (data.encoder.target_mean, data.encoder.target_std) == (
        reference.encoder.target_mean, reference.encoder.target_std)  # fmt: skip


def test_statistics_come_from_the_training_rows_only():
    x_train, x_val = np.array([[0.0], [2.0]]), np.array([[100.0]])
    data = from_arrays(x_train, np.array([1.0, 3.0]), "regression", x_val, np.array([50.0]))
    assert data.x["train"].flatten().tolist() == [-1.0, 1.0]
    assert data.x["val"].item() == 99.0  # (100 - mean 1) / std 1
    assert data.y["val"].item() == 48.0  # (50 - 2) / 1
    assert data.size("test") == 0


def test_labels_keep_their_dtype_and_may_come_from_a_wider_class_list():
    x = np.zeros((3, 2))
    data = from_arrays(x, np.array(["b", "a", "b"]), "classification", classes=["a", "b", "c"])
    assert data.encoder.labels.classes_.dtype.kind == "U" and data.n_classes == 3
    assert data.y["train"].tolist() == [1, 0, 1]
    again = from_arrays(x, np.array(["c", "c", "a"]), "classification", encoder=data.encoder)
    assert again.y["train"].tolist() == [2, 2, 0]
    with pytest.raises(DataError, match=r"y: labels \['z'\] are not among the classes"):
        from_arrays(x, np.array(["a", "z", "a"]), "classification", encoder=data.encoder)


def test_non_numeric_or_flat_features_are_refused():
    with pytest.raises(DataError, match="expected a 2-D numeric array"):
        from_arrays(np.array([["a"], ["b"]]), np.array([0, 1]), "classification")
    with pytest.raises(DataError, match="expected a 2-D numeric array"):
        from_arrays(np.zeros(3), np.zeros(3), "regression")
