"""Metrics: per-epoch ones in torch, the final report from scikit-learn (or its formulas).

Per-epoch metrics are written in torch because they run every epoch for every cohort member on
the device (leading dims of ``pred`` are members); scikit-learn would need one host copy and one
call per member per epoch. Tests check each one against ``sklearn.metrics``, which also computes
the final, authoritative scores in :func:`final_metrics`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

#: Metrics where larger is better; every other metric (losses, errors) is minimized.
MAXIMIZED = {"accuracy", "f1", "roc_auc", "r2"}


def direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for a metric name such as ``val/accuracy`` (or one
    target's ``val/r2/y1``: the name after the part decides)."""
    parts = metric.split("/")
    return "maximize" if parts[min(1, len(parts) - 1)] in MAXIMIZED else "minimize"


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


def regression_metrics(pred: torch.Tensor, y: torch.Tensor, mean, std,
                       targets: Sequence[str] = ()) -> dict:  # fmt: skip
    """MSE, RMSE, MAE and R² in the target's own units (predictions are un-standardized first).

    With several ``targets`` (``y`` is ``[n, targets]``), each target's scores under
    ``rmse/<target>``... and their unweighted means as ``rmse``... (scikit-learn's
    ``multioutput="uniform_average"``).
    """
    if not targets:
        pred, y = pred[..., :1], y.unsqueeze(-1)
    mean, std = (torch.as_tensor(v, dtype=pred.dtype, device=pred.device) for v in (mean, std))
    guess, truth = pred * std + mean, y * std + mean
    error = guess - truth
    total = (truth - truth.mean(-2, keepdim=True)).square().sum(-2)
    mse = error.square().mean(-2)
    each = {  # [..., targets]
        "mse": mse,
        "rmse": mse.sqrt(),
        "mae": error.abs().mean(-2),
        "r2": 1 - error.square().sum(-2) / total.clamp_min(torch.finfo(total.dtype).tiny),
    }
    scores = {name: value.mean(-1) for name, value in each.items()}
    for i, target in enumerate(targets):
        scores |= {f"{name}/{target}": value[..., i] for name, value in each.items()}
    return scores


def epoch_metrics(pred, y, task: str, n_classes: int | None, mean=0.0, std=1.0,
                  targets: Sequence[str] = ()) -> dict:  # fmt: skip
    if task == "classification":
        return classification_metrics(pred, y, n_classes)
    return regression_metrics(pred, y, mean, std, targets)


def accuracy_and_macro_f1(y: np.ndarray, guess: np.ndarray) -> tuple[float, float]:
    """scikit-learn's ``accuracy_score`` and ``f1_score(average="macro")``, from the counts.

    Not the scikit-learn calls: each one validates its input and detects the target type (~8 ms
    for the two), and a study scores every trial on two parts: that was ~1.3 s of the default
    study's 11.5 s search (cProfile). The formulas are scikit-learn's: macro-F1 averages over the labels
    present in ``y`` or ``guess``, each ``2·TP / (predicted + actual)``, which is 0 for a label
    never predicted correctly (its zero-division case). Tests compare both with scikit-learn.
    """
    y, guess = np.asarray(y).reshape(-1), np.asarray(guess).reshape(-1)
    labels, index = np.unique(np.concatenate([y, guess]), return_inverse=True)
    truth, said = index[: len(y)], index[len(y) :]
    right = truth == said
    count = functools.partial(np.bincount, minlength=len(labels))
    actual, predicted, hits = count(truth), count(said), count(truth[right])
    return float(right.mean()), float((2 * hits / (actual + predicted)).mean())


def log_loss_from_log_proba(log_proba: np.ndarray, y: np.ndarray) -> float:
    """Mean −log P(true class), exactly, from log-probabilities.

    Not ``sklearn.metrics.log_loss``: it takes probabilities and clips them to [eps, 1 − eps],
    so a confidently wrong row (logit margin 40, true −log p = 40) counted at most ~15.9 nats
    in float32 and the metric understated the loss the model was trained on.
    """
    return float(-log_proba[np.arange(len(y)), np.asarray(y, dtype=np.int64)].mean())


#: The regression scores, by scikit-learn's function names:
#: ``(truth, guess, multioutput) -> float or array``.
REGRESSION_SCORES = {
    "mse": "mean_squared_error",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
}


def final_regression_metrics(pred: np.ndarray, y: np.ndarray, mean, std,
                             targets: Sequence[str] = ()) -> dict:  # fmt: skip
    """MSE, RMSE, MAE and R² in the target's units; with several ``targets``, each target's as
    ``rmse/<target>``... beside their unweighted means."""
    from sklearn import metrics as skm  # scikit-learn and scipy: imported where scores are made

    guess = pred * np.asarray(std) + np.asarray(mean) if targets else pred[:, 0] * std + mean
    truth = y * np.asarray(std) + np.asarray(mean)
    functions = {name: getattr(skm, fn) for name, fn in REGRESSION_SCORES.items()}
    scores = {name: float(fn(truth, guess)) for name, fn in functions.items()}
    for name, fn in functions.items() if targets else ():
        each = fn(truth, guess, multioutput="raw_values")
        scores |= {f"{name}/{target}": float(v) for target, v in zip(targets, each, strict=True)}
    return scores


def final_metrics(pred: np.ndarray, y: np.ndarray, task: str, mean=0.0, std=1.0,
                  targets: Sequence[str] = ()) -> dict:  # fmt: skip
    """The run's reported scores on one part (val or test): scikit-learn's functions, or their
    formulas where its input checks cost more than the score (:func:`accuracy_and_macro_f1`).

    Classification scores come from the logits in float64: ``log_loss`` from their log-softmax
    (log-sigmoid for one logit), so it is exact for confident rows.
    """
    if len(y) == 0 or not np.isfinite(pred).all():
        return {}
    if task == "regression":
        return final_regression_metrics(pred, y, mean, std, targets)
    from scipy.special import log_expit, log_softmax

    logits = pred.astype(np.float64)
    if logits.shape[1] == 1:  # one logit z: log P(class 1) = log sigmoid(z), log P(0) = log sigmoid(-z)
        log_proba = np.stack([log_expit(-logits[:, 0]), log_expit(logits[:, 0])], axis=1)
    else:
        log_proba = log_softmax(logits, axis=1)
    proba = np.exp(log_proba)
    accuracy, f1 = accuracy_and_macro_f1(y, log_proba.argmax(1))
    scores = {"accuracy": accuracy, "f1": f1, "log_loss": log_loss_from_log_proba(log_proba, y)}
    if proba.shape[1] == 2 and len(np.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        scores["roc_auc"] = float(roc_auc_score(y, proba[:, 1]))
    return scores
