"""Holdout and k-fold: sizes, disjoint parts, stratification, seeds; the test part stays out."""

from __future__ import annotations

import numpy as np
import pytest

from tuneforge.config.schema import DataConfig, SplitConfig
from tuneforge.data import prepare
from tuneforge.data.split import holdout, kfold
from tuneforge.errors import DataError


def _labels(n_per_class=(60, 30, 10)):
    return np.repeat(np.arange(len(n_per_class)), n_per_class)


def test_holdout_parts_are_disjoint_cover_all_rows_and_have_the_asked_sizes():
    y = _labels()
    train, val, test = holdout(y, "classification", 0.2, 0.3, seed=0)
    everything = np.concatenate([train, val, test])
    assert sorted(everything.tolist()) == list(range(len(y)))
    assert (len(test), len(val)) == (30, 20)  # fractions of all rows, exactly


def test_holdout_sizes_round_up_like_scikit_learn():
    y = np.arange(101.0)
    train, val, test = holdout(y, "regression", 0.15, 0.25, seed=0)
    assert (len(test), len(val)) == (26, 16)  # ceil(25.25), ceil(15.15)


def test_holdout_is_stratified_for_classes():
    y = _labels()
    for rows in holdout(y, "classification", 0.2, 0.2, seed=3):
        share = np.bincount(y[rows], minlength=3) / len(rows)
        np.testing.assert_allclose(share, [0.6, 0.3, 0.1], atol=0.051)


def test_holdout_is_seeded():
    y = _labels()
    first = holdout(y, "classification", 0.2, 0.2, seed=1)
    again = holdout(y, "classification", 0.2, 0.2, seed=1)
    other = holdout(y, "classification", 0.2, 0.2, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_zero_fractions_give_empty_parts():
    train, val, test = holdout(np.arange(50.0), "regression", 0.0, 0.0, seed=0)
    assert len(train) == 50 and len(val) == 0 and len(test) == 0


def test_unsplittable_classes_name_the_key():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])  # one row of class 2 cannot be stratified
    with pytest.raises(DataError, match=r"^data.split: cannot split 9 rows"):
        holdout(y, "classification", 0.2, 0.2, seed=0)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_kfold_validation_parts_partition_the_rows(task):
    y = _labels() if task == "classification" else np.linspace(0, 1, 100)
    folds = kfold(y, task, 5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([val for _, val in folds])
    assert sorted(seen.tolist()) == list(range(len(y)))
    for train, val in folds:
        assert not set(train) & set(val) and len(train) + len(val) == len(y)
    if task == "classification":
        for _, val in folds:
            assert np.bincount(y[val], minlength=3).tolist() == [12, 6, 2]


def test_kfold_errors_name_data_folds():
    with pytest.raises(DataError, match=r"^data.folds: 5 folds but the rarest class has 3 rows"):
        kfold(np.array([0] * 10 + [1] * 3), "classification", 5, seed=0)
    with pytest.raises(DataError, match=r"^data.folds: 20 folds need at least 20 rows"):
        kfold(np.arange(10.0), "regression", 20, seed=0)
    with pytest.raises(DataError, match=r"^data.folds: expected at least 2 folds"):
        kfold(np.arange(10.0), "regression", 1, seed=0)


def test_prepare_folds_keep_the_test_part_out_and_rotate_validation():
    cfg = DataConfig(source="iris", folds=3, split=SplitConfig(val=0.2, test=0.2, seed=0))
    holdout_parts = prepare(cfg).rows
    folds = [prepare(cfg, fold=k).rows for k in range(3)]
    non_test = np.concatenate([holdout_parts["train"], holdout_parts["val"]])
    for rows in folds:
        assert np.array_equal(rows["test"], holdout_parts["test"])
        assert sorted(np.concatenate([rows["train"], rows["val"]]).tolist()) == sorted(non_test)
    validation = np.concatenate([rows["val"] for rows in folds])
    assert sorted(validation.tolist()) == sorted(non_test.tolist())


def test_refit_trains_on_train_and_val():
    cfg = DataConfig(source="iris")
    normal, refit = prepare(cfg), prepare(cfg, refit=True)
    assert refit.size("val") == 0
    assert refit.size("train") == normal.size("train") + normal.size("val")
    assert np.array_equal(refit.rows["test"], normal.rows["test"])
