"""Training behaviour of the estimators: partial_fit, seeds, early stopping, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV

from tuneforge.errors import ConfigError, DataError
from tuneforge.sklearn import (
    InvalidDataError,
    InvalidParameterError,
    NeuralNetClassifier,
    NeuralNetRegressor,
    TrainingDivergedError,
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


# ------------------------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("schedule", ["constant", "inverse_time"])
def test_fit_then_partial_fit_equals_one_longer_fit(iris, schedule):
    """Full batches (no shuffling): the only state is weights, Adam's moments and the step."""
    X, y = iris
    params = QUICK | {"batch_size": "full", "schedule": schedule,
                      "schedule_params": {"decay": 0.3} if schedule == "inverse_time" else None}  # fmt: skip
    longer = NeuralNetClassifier(**params | {"epochs": 6}).fit(X, y)
    resumed = NeuralNetClassifier(**params | {"epochs": 4}).fit(X, y)
    resumed.partial_fit(X, y)
    resumed.partial_fit(X, y)
    assert resumed.n_iter_ == 6 and resumed.t_ == 6
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4, 5, 6]
    assert [r["lr"] for r in resumed.history_] == [r["lr"] for r in longer.history_]
    np.testing.assert_array_equal(resumed.predict_proba(X), longer.predict_proba(X))


def test_partial_fit_past_a_whole_run_curve_holds_its_last_rate_and_needs_no_validation(iris):
    X, y = iris
    est = NeuralNetClassifier(**QUICK | {"batch_size": "full", "epochs": 3}, schedule="onecycle").fit(X, y)
    est.partial_fit(X, y)
    est.partial_fit(X, y)
    lrs = [r["lr"] for r in est.history_]
    assert lrs[2] < lrs[0] / 1000  # the planned cycle over 3 epochs ends near zero...
    assert lrs[3] == lrs[4] == lrs[2]  # ...and stays there rather than cycling again
    watching_val = NeuralNetClassifier(**QUICK, schedule="plateau")
    with pytest.raises(InvalidParameterError, match="plateau schedule must watch train/loss"):
        watching_val.partial_fit(X, y, classes=[0, 1, 2])
    watching_val.set_params(schedule_params={"monitor": "train/loss"}).partial_fit(X, y, classes=[0, 1, 2])
    assert watching_val.n_iter_ == 1


def test_partial_fit_streams_batches_that_miss_classes(iris):
    X, y = iris  # sorted by class: the first batch holds only class 0
    est = NeuralNetClassifier(**QUICK)
    with pytest.raises(InvalidDataError, match="classes must be passed"):
        est.partial_fit(X[:50], y[:50])
    est.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    assert est.classes_.tolist() == [0, 1, 2] and est.n_iter_ == 1
    order = np.random.default_rng(0).permutation(len(X))
    for _ in range(20):
        for chunk in np.array_split(order, 5):
            est.partial_fit(X[chunk], y[chunk])
    assert est.n_iter_ == 101 and est.score(X, y) > 0.9
    with pytest.raises(InvalidDataError, match="differ from classes_"):
        est.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(InvalidDataError, match="not among the classes"):
        est.partial_fit(X[:3], np.array([0, 1, 9]))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)


def test_partial_fit_after_fit_continues_from_the_fitted_weights():
    X, y = load_diabetes(return_X_y=True)
    est = NeuralNetRegressor(**QUICK).fit(X, y)
    before = est.score(X, y)
    for _ in range(10):
        est.partial_fit(X, y)
    assert est.score(X, y) > before and est.n_iter_ == QUICK["epochs"] + 10


# ----------------------------------------------------------------------------- determinism
def test_same_seed_same_model_other_seed_other_model_and_global_rng_untouched(iris):
    X, y = iris
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = NeuralNetClassifier(dropout=0.3, seed=5, **QUICK).fit(X, y).predict_proba(X)
    assert torch.equal(torch.rand(3), expected)  # fit drew nothing from the caller's stream
    again = NeuralNetClassifier(dropout=0.3, seed=5, **QUICK).fit(X, y).predict_proba(X)
    other = NeuralNetClassifier(dropout=0.3, seed=6, **QUICK).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


# -------------------------------------------------------------------------- early stopping
def test_early_stopping_holds_out_rows_and_keeps_the_best_epoch(iris):
    X, y = iris
    est = NeuralNetClassifier(**QUICK | {"lr": 0.2, "epochs": 40}, early_stopping=True, patience=2,
                              validation_fraction=0.25, seed=3).fit(X, y)  # fmt: skip
    losses = [r["val/loss"] for r in est.history_]
    assert est.status_ == "early_stopped" and est.n_iter_ < 40
    assert est.best_epoch_ == 1 + int(np.argmin(losses)) and est.n_iter_ == est.best_epoch_ + 2
    assert est.config_.data.split.val == 0.25 and est.t_ == est.n_iter_ * 4  # 112 rows, batch 32
    plain = NeuralNetClassifier(**QUICK).fit(X, y)
    assert "val/loss" not in plain.history_[0] and plain.config_.data.split.val == 0
    assert plain.t_ == plain.n_iter_ * 5  # every row trains: 150 rows, batch 32


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("params", "message"),
    [({"lr": -1.0}, "NeuralNetClassifier: lr: Input should be greater than 0"),
     ({"optimizer": "lbfgs"}, "optimizer: unknown 'lbfgs'"),
     ({"optimizer_params": {"momentum": 0.9}}, "optimizer_params: momentum: unknown key"),
     ({"optimizer_params": {"lr": 0.1}}, "'lr' has its own parameter, lr"),
     ({"hidden": (16, 0)}, "hidden: 1: Input should be greater than 0"),
     ({"model": "linear", "loss": "mse"}, "loss: mse is a regression loss"),
     ({"loss": "bce"}, "loss: bce needs 2 classes, the data has 3"),
     ({"early_stopping": True, "monitor": "val/r2"}, "monitor: 'val/r2' is not a per-epoch metric"),
     ({"validation_fraction": 1.5}, "validation_fraction: Input should be less than 1"),
     ({"schedule_params": {"decay": 0.1}}, "schedule_params: decay: unknown key"),
     ({"device": "tpu"}, "device: unknown device 'tpu'")],
)  # fmt: skip
def test_bad_parameters_fail_at_fit_naming_the_parameter(iris, params, message):
    est = NeuralNetClassifier(**params)  # __init__ stores; it never validates
    assert all(getattr(est, k) == v for k, v in params.items())
    with pytest.raises(InvalidParameterError, match=message.replace("(", r"\(")) as caught:
        est.fit(*iris)
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_bad_data_errors_are_data_errors_and_value_errors(iris):
    X, y = iris
    with pytest.raises(InvalidDataError, match="one class only") as caught:
        NeuralNetClassifier(**QUICK).fit(X, np.zeros(len(X)))
    assert isinstance(caught.value, DataError) and isinstance(caught.value, ValueError)
    with pytest.raises(ValueError, match="Unknown label type"):
        NeuralNetClassifier(**QUICK).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="NaN"):
        NeuralNetRegressor(**QUICK).fit(np.where(X > 7, np.nan, X), y)


def test_divergence_raises_and_grid_search_scores_it_as_error_score():
    X, y = load_diabetes(return_X_y=True)
    wild = {"optimizer": "sgd", "lr": 1e8, "batch_size": "full", "epochs": 5, "device": "cpu"}
    with pytest.raises(TrainingDivergedError, match=r"diverged at epoch 2, step 2 \(lr 1e\+08\).*lower lr"):
        NeuralNetRegressor(**wild).fit(X, y)
    search = GridSearchCV(NeuralNetRegressor(**wild), {"lr": [1e8, 1e-2]}, cv=2, error_score=np.nan)
    with pytest.warns(FitFailedWarning, match="2 fits failed"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "One or more of the test scores are non-finite")
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1]) and search.best_params_ == {"lr": 1e-2}
