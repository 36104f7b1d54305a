"""Metrics: per-epoch ones in torch, the final report from scikit-learn.

Per-epoch metrics are written in torch because they run every epoch for every cohort member on
the device (leading dims of ``pred`` are members); scikit-learn would need one host copy and one
call per member per epoch. Tests check each one against ``sklearn.metrics``, which also computes
the final, authoritative scores in :func:`final_metrics`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import log_expit, log_softmax
from sklearn import metrics as skm

#: Metrics where larger is better; every other metric (losses, errors) is minimized.
MAXIMIZED = {"accuracy", "f1", "roc_auc", "r2"}


def direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for a metric name such as ``val/accuracy``."""
    return "maximize" if metric.rsplit("/", 1)[-1] in MAXIMIZED else "minimize"


def mode(metric: str) -> str:
    """``"max"`` or ``"min"``: the same as :func:`direction`, in torch's scheduler spelling."""
    return "max" if direction(metric) == "maximize" else "min"


def predicted_class(pred: torch.Tensor) -> torch.Tensor:
    """Class index from logits: argmax, or ``logit > 0`` for a single binary output."""
    return (pred[..., 0] > 0).long() if pred.shape[-1] == 1 else pred.argmax(-1)


def classification_metrics(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict:
    """Accuracy and macro-F1 (over the labels present in y or the prediction, as scikit-learn)."""
    guess = predicted_class(pred)
    accuracy = (guess == y).to(pred.dtype).mean(-1)
    p = torch.nn.functional.one_hot(guess, n_classes).to(pred.dtype)
    t = torch.nn.functional.one_hot(y, n_classes).to(pred.dtype)
    tp, predicted, actual = (p * t).sum(-2), p.sum(-2), t.sum(-2)
    present = (predicted + actual) > 0
    f1 = torch.where(present, 2 * tp / (predicted + actual).clamp_min(1), 0.0)
    return {"accuracy": accuracy, "f1": f1.sum(-1) / present.sum(-1)}


def regression_metrics(pred: torch.Tensor, y: torch.Tensor, mean: float, std: float) -> dict:
    """MSE, RMSE, MAE and R² in the target's own units (predictions are un-standardized first)."""
    guess, truth = pred[..., 0] * std + mean, y * std + mean
    error = guess - truth
    total = (truth - truth.mean()).square().sum()
    mse = error.square().mean(-1)
    return {
        "mse": mse,
        "rmse": mse.sqrt(),
        "mae": error.abs().mean(-1),
        "r2": 1 - error.square().sum(-1) / total.clamp_min(torch.finfo(total.dtype).tiny),
    }


def epoch_metrics(pred, y, task: str, n_classes: int | None, mean=0.0, std=1.0) -> dict:
    if task == "classification":
        return classification_metrics(pred, y, n_classes)
    return regression_metrics(pred, y, mean, std)


def log_loss_from_log_proba(log_proba: np.ndarray, y: np.ndarray) -> float:
    """Mean −log P(true class), exactly, from log-probabilities.

    Not ``sklearn.metrics.log_loss``: it takes probabilities and clips them to [eps, 1 − eps],
    so a confidently wrong row (logit margin 40, true −log p = 40) counted at most ~15.9 nats
    in float32 and the metric understated the loss the model was trained on.
    """
    return float(-log_proba[np.arange(len(y)), np.asarray(y, dtype=np.int64)].mean())


def final_metrics(pred: np.ndarray, y: np.ndarray, task: str, mean=0.0, std=1.0) -> dict:
    """The run's reported scores, from scikit-learn, on one part (val or test).

    Classification scores come from the logits in float64: ``log_loss`` from their log-softmax
    (log-sigmoid for one logit), so it is exact for confident rows.
    """
    if len(y) == 0 or not np.isfinite(pred).all():
        return {}
    if task == "regression":
        guess, truth = pred[:, 0] * std + mean, y * std + mean
        return {
            "mse": float(skm.mean_squared_error(truth, guess)),
            "rmse": float(skm.root_mean_squared_error(truth, guess)),
            "mae": float(skm.mean_absolute_error(truth, guess)),
            "r2": float(skm.r2_score(truth, guess)),
        }
    logits = pred.astype(np.float64)
    if logits.shape[1] == 1:  # one logit z: log P(class 1) = log sigmoid(z), log P(0) = log sigmoid(-z)
        log_proba = np.stack([log_expit(-logits[:, 0]), log_expit(logits[:, 0])], axis=1)
    else:
        log_proba = log_softmax(logits, axis=1)
    proba = np.exp(log_proba)
    guess = log_proba.argmax(1)
    scores = {
        "accuracy": float(skm.accuracy_score(y, guess)),
        "f1": float(skm.f1_score(y, guess, average="macro")),
        "log_loss": log_loss_from_log_proba(log_proba, y),
    }
    if proba.shape[1] == 2 and len(np.unique(y)) == 2:
        scores["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
    return scores
