"""The estimators in scikit-learn's machinery (issue 8, items 1 and 4) and their own contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import DataConversionWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tuneforge.sklearn import (
    InvalidDataError,
    NeuralNetClassifier,
    NeuralNetRegressor,
)

QUICK = {"hidden": (16,), "lr": 0.02, "batch_size": 32, "epochs": 8, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[::2], y[::2]  # 285 rows: enough to learn, quick to cross-validate


# ------------------------------------------------------------------------ pipeline and search
def test_standard_scaler_in_pipeline_equals_internal_standardization(cancer):
    X, y = cancer
    piped = make_pipeline(StandardScaler(), NeuralNetClassifier(standardize=False, **QUICK)).fit(X, y)
    inside = NeuralNetClassifier(**QUICK).fit(X, y)
    np.testing.assert_allclose(piped.predict_proba(X), inside.predict_proba(X), rtol=1e-6)
    assert piped.score(X, y) > 0.9


def test_grid_search_is_the_same_with_one_and_two_workers(cancer):
    X, y = cancer
    grid = {"lr": [0.001, 0.03], "hidden": [(4,), (32,)]}
    searches = [GridSearchCV(NeuralNetClassifier(**QUICK), grid, cv=3, n_jobs=jobs).fit(X, y)
                for jobs in (1, 2)]  # fmt: skip
    one, two = (s.cv_results_["mean_test_score"] for s in searches)
    np.testing.assert_allclose(one, two, rtol=1e-12)
    assert searches[0].best_params_ == searches[1].best_params_
    assert len(set(one.round(6))) > 1  # the parameters reached the estimator
    best = searches[0].best_estimator_
    assert best.lr == searches[0].best_params_["lr"] and hasattr(best, "module_")


def test_cross_val_score_is_clone_fit_score_per_fold(cancer):
    X, y = cancer
    est = NeuralNetClassifier(**QUICK)
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(est, X, y, cv=folds)
    by_hand = [clone(est).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in folds.split(X, y)]
    np.testing.assert_array_equal(scores, by_hand)
    assert scores.mean() > 0.9


def test_regressor_cross_val_score_reports_r2():
    X, y = load_diabetes(return_X_y=True)
    scores = cross_val_score(NeuralNetRegressor(**QUICK), X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and 0.3 < scores.mean() < 1.0


def test_clone_is_unfitted_with_equal_parameters_and_refits_identically(iris):
    X, y = iris
    est = NeuralNetClassifier(optimizer_params={"amsgrad": True}, **QUICK).fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "module_")
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("estimator", [NeuralNetClassifier, NeuralNetRegressor])
def test_pickle_round_trip_predicts_identically_and_keeps_training(iris, estimator):
    X, y = iris
    est = estimator(**QUICK).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    back.partial_fit(X, y)
    est.partial_fit(X, y)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


@pytest.mark.parametrize("estimator", [NeuralNetClassifier, NeuralNetRegressor])
def test_save_and_load_without_pickle(tmp_path, iris, estimator):
    X, y = iris
    est = estimator(**QUICK).fit(X, y)
    back = estimator.load(est.save(tmp_path / "est"))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.get_params() == est.get_params() and back.n_iter_ == est.n_iter_
    back.partial_fit(X, y)
    est.partial_fit(X, y)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    with pytest.raises(Exception, match="holds a"):
        (NeuralNetRegressor if estimator is NeuralNetClassifier else NeuralNetClassifier).load(tmp_path / "est")


# ------------------------------------------------------------------------------------ labels
@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog", "emu"]), np.array([-1, 5, 7]), np.array([1.0, 2.0, 4.0]),
     np.array(["x", "y", "z"], dtype=object)],
)  # fmt: skip
def test_any_label_type_comes_back_from_predict(iris, labels):
    X, y = iris
    est = NeuralNetClassifier(**QUICK).fit(X, labels[y])
    np.testing.assert_array_equal(est.classes_, labels)  # sorted already
    pred = est.predict(X)
    assert pred.dtype == labels.dtype and set(pred) <= set(labels)
    assert est.score(X, labels[y]) > 0.8


@pytest.mark.parametrize("loss", [None, "bce"])
def test_binary_predict_proba_has_two_columns_in_classes_order(cancer, loss):
    X, y = cancer
    labels = np.array([False, True])[y]
    est = NeuralNetClassifier(loss=loss, **QUICK).fit(X, labels)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2) and est.classes_.tolist() == [False, True]
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(1)])
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-6, atol=1e-12)
    assert est.module_[-1].out_features == (1 if loss == "bce" else 2)


def test_regressor_rejects_multi_output_and_warns_on_a_column_vector():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(InvalidDataError, match="multi-output regression is not supported"):
        NeuralNetRegressor(**QUICK).fit(X, np.column_stack([y, y]))
    with pytest.warns(DataConversionWarning):
        column = NeuralNetRegressor(**QUICK).fit(X, y[:, None])
    np.testing.assert_array_equal(column.predict(X), NeuralNetRegressor(**QUICK).fit(X, y).predict(X))


def test_regressor_predicts_in_target_units():
    X, y = load_diabetes(return_X_y=True)
    shifted = NeuralNetRegressor(**QUICK).fit(X, 1000 + 10 * y)
    plain = NeuralNetRegressor(**QUICK).fit(X, y)
    # Target standardization makes the trained network identical; only the units differ.
    np.testing.assert_allclose(shifted.predict(X), 1000 + 10 * plain.predict(X), rtol=1e-6)
