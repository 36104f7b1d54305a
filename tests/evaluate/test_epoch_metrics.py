"""Per-epoch torch metrics equal ``sklearn.metrics``; the final report's probabilities are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

from tuneforge.evaluate.metrics import (
    accuracy_and_macro_f1,
    direction,
    epoch_metrics,
    final_metrics,
    mode,
)

N = 300


def _sklearn_classification(logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
    guess = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(1)
    return {"accuracy": skm.accuracy_score(y, guess),
            "f1": skm.f1_score(y, guess, average="macro", zero_division=0)}  # fmt: skip


def _check_classification(logits: torch.Tensor, y: torch.Tensor, n_classes: int) -> None:
    got = epoch_metrics(logits, y, "classification", n_classes)
    want = _sklearn_classification(logits.numpy(), y.numpy())
    for name, value in want.items():
        assert float(got[name]) == pytest.approx(value, rel=1e-6), name


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_accuracy_and_macro_f1_equal_sklearn(n_classes):
    gen = torch.Generator().manual_seed(n_classes)
    y = torch.randint(n_classes, (N,), generator=gen)
    logits = torch.randn(N, n_classes, generator=gen) + 1.5 * F.one_hot(y, n_classes)  # better than chance
    _check_classification(logits, y, n_classes)


def test_macro_f1_counts_a_class_never_predicted_as_zero():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(4, (N,), generator=gen)
    logits = torch.randn(N, 4, generator=gen)
    logits[:, 2] = -100.0  # class 2 is in y but never predicted
    assert 2 not in logits.argmax(1) and 2 in y
    _check_classification(logits, y, 4)


def test_macro_f1_leaves_out_a_class_absent_from_both_truth_and_prediction():
    gen = torch.Generator().manual_seed(1)
    y = torch.randint(3, (N,), generator=gen)  # n_classes 5: classes 3 and 4 appear nowhere
    logits = torch.randn(N, 5, generator=gen)
    logits[:, 3:] = -100.0
    _check_classification(logits, y, 5)


def test_a_single_binary_logit_predicts_class_one_when_positive():
    gen = torch.Generator().manual_seed(2)
    y = torch.randint(2, (N,), generator=gen)
    logits = torch.randn(N, 1, generator=gen) + (y[:, None] - 0.5)
    _check_classification(logits, y, 2)


def test_classification_with_leading_member_dims_scores_each_member():
    gen = torch.Generator().manual_seed(3)
    y = torch.randint(6, (N,), generator=gen)
    logits = torch.randn(4, N, 6, generator=gen) + torch.linspace(0, 3, 4)[:, None, None] * F.one_hot(y, 6)
    logits[1, :, 5] = -100.0  # member 1 never predicts class 5
    got = epoch_metrics(logits, y, "classification", 6)
    for name in ("accuracy", "f1"):
        assert got[name].shape == (4,)
    for k in range(4):
        want = _sklearn_classification(logits[k].numpy(), y.numpy())
        assert float(got["accuracy"][k]) == pytest.approx(want["accuracy"], rel=1e-6)
        assert float(got["f1"][k]) == pytest.approx(want["f1"], rel=1e-6)


def _sklearn_regression(pred: np.ndarray, y: np.ndarray, mean: float, std: float) -> dict:
    guess, truth = pred * std + mean, y * std + mean
    return {"mse": skm.mean_squared_error(truth, guess),
            "rmse": skm.root_mean_squared_error(truth, guess),
            "mae": skm.mean_absolute_error(truth, guess), "r2": skm.r2_score(truth, guess)}  # fmt: skip


def test_regression_metrics_equal_sklearn_in_the_targets_units_with_member_dims():
    gen = torch.Generator().manual_seed(4)
    y = torch.randn(N, generator=gen, dtype=torch.float64)
    pred = y[None, :, None] + torch.randn(3, N, 1, generator=gen, dtype=torch.float64) * torch.tensor(
        [0.1, 0.5, 2.0], dtype=torch.float64)[:, None, None]  # fmt: skip
    mean, std = 152.1, 77.3  # the target was standardized with these
    got = epoch_metrics(pred, y, "regression", None, mean, std)
    single = epoch_metrics(pred[2], y, "regression", None, mean, std)
    for k in range(3):
        want = _sklearn_regression(pred[k, :, 0].numpy(), y.numpy(), mean, std)
        for name, value in want.items():
            assert float(got[name][k]) == pytest.approx(value, rel=1e-10), (name, k)
    assert float(got["r2"][2]) < 0 < float(got["r2"][0])  # a member worse than the mean
    for name in single:
        assert float(single[name]) == pytest.approx(float(got[name][2]), rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_final_accuracy_and_macro_f1_equal_sklearn(seed):
    """Random labels and guesses over 2-12 classes, some classes only in the truth, some only
    in the guesses, some nowhere; labels as ints or floats."""
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 13))
    y = rng.choice(classes, size=int(rng.integers(5, 400)), p=rng.dirichlet(np.ones(classes) * 0.5))
    guess = np.where(rng.random(len(y)) < 0.6, y, rng.integers(0, classes + 2, len(y)))  # 2 extra labels
    if seed % 2:
        y = y.astype(np.float64)
    accuracy, f1 = accuracy_and_macro_f1(y, guess)
    assert accuracy == pytest.approx(skm.accuracy_score(y, guess), abs=1e-15)
    assert f1 == pytest.approx(skm.f1_score(y, guess, average="macro", zero_division=0), abs=1e-12)


def test_final_f1_of_a_guess_that_is_never_right_is_zero_as_sklearn():
    y, guess = np.array([0, 0, 1, 1]), np.array([1, 1, 2, 2])
    assert accuracy_and_macro_f1(y, guess) == (0.0, 0.0)
    assert skm.f1_score(y, guess, average="macro", zero_division=0) == 0.0


def test_final_log_loss_is_the_mean_softmax_cross_entropy_of_the_logits():
    gen = torch.Generator().manual_seed(5)
    y = torch.randint(3, (N,), generator=gen)
    logits = torch.randn(N, 3, generator=gen, dtype=torch.float64) * 4
    scores = final_metrics(logits.numpy(), y.numpy(), "classification")
    assert scores["log_loss"] == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-9)
    assert "roc_auc" not in scores  # binary only


def _mann_whitney_auc(score: np.ndarray, y: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + ½·P(tie), over all pairs."""
    pos, neg = score[y == 1][:, None], score[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_final_binary_scores_from_one_logit_and_from_two_agree_with_closed_forms():
    gen = torch.Generator().manual_seed(6)
    y = torch.randint(2, (N,), generator=gen)
    logit = torch.randn(N, 1, generator=gen, dtype=torch.float64) + (y[:, None] - 0.5) * 2
    one = final_metrics(logit.numpy(), y.numpy(), "classification")
    two = final_metrics(torch.cat([torch.zeros_like(logit), logit], 1).numpy(), y.numpy(),
                        "classification")  # fmt: skip
    bce = float(F.binary_cross_entropy_with_logits(logit[:, 0], y.double()))
    auc = _mann_whitney_auc(logit[:, 0].numpy(), y.numpy())
    for scores in (one, two):
        assert scores["log_loss"] == pytest.approx(bce, rel=1e-9)
        assert scores["roc_auc"] == pytest.approx(auc, rel=1e-12)
        assert scores["accuracy"] == pytest.approx(float(((logit[:, 0] > 0).long() == y).double().mean()))


def test_final_regression_scores_add_mse_in_the_targets_units():
    gen = torch.Generator().manual_seed(7)
    y = torch.randn(N, generator=gen, dtype=torch.float64)
    pred = (y + 0.3 * torch.randn(N, generator=gen, dtype=torch.float64))[:, None]
    mean, std = -4.0, 12.5
    scores = final_metrics(pred.numpy(), y.numpy(), "regression", mean, std)
    residual = (pred[:, 0] - y).numpy() * std  # the error in the target's units: (ŷ − y)·std
    assert scores["mse"] == pytest.approx(float(np.mean(residual**2)), rel=1e-12)
    assert scores["rmse"] == pytest.approx(np.sqrt(scores["mse"]), rel=1e-12)


def test_final_metrics_of_non_finite_predictions_are_empty():
    assert final_metrics(np.array([[np.nan], [1.0]]), np.array([0.0, 1.0]), "regression") == {}


@pytest.mark.parametrize("metric,want", [("val/accuracy", "max"), ("val/f1", "max"), ("val/r2", "max"),
                                         ("val/roc_auc", "max"), ("val/loss", "min"),
                                         ("train/loss", "min"), ("val/rmse", "min"), ("val/mae", "min"),
                                         ("val/mse", "min")])  # fmt: skip
def test_direction_follows_the_metric_name(metric, want):
    assert mode(metric) == want
    assert direction(metric) == {"max": "maximize", "min": "minimize"}[want]
