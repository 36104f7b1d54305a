"""Extra scores of ``train.metrics``: scikit-learn scorer names, or the user's ``module:function``.

A scorer name (``balanced_accuracy``, ``matthews_corrcoef``, ``roc_auc_ovr``,
``neg_mean_absolute_percentage_error``...) is scored by scikit-learn's own scorer object, so its
sign, keyword arguments and response method (labels, probabilities or decision values) are
scikit-learn's: :class:`_Outputs` is a stand-in estimator that hands the scorer the model's
outputs. Scorers are greater-is-better, so each one is maximized as a tuning objective.

A ``module:function`` is called as ``fn(y_true, y_pred)`` -> float: class indices (0..C-1, in
the order of the sorted labels) for classification, values in the target's units for
regression. Its direction is not known, so ``tune.objective`` must give one.

Each score is reported under its name (a function's attribute name: ``val/macro_recall``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer, get_scorer_names

from tuneforge.errors import ConfigError
from tuneforge.usercode import describe, is_spec, load

#: Scores every run reports already (evaluate/metrics.py); listing one again is an error.
BUILT_IN = {"loss", "accuracy", "f1", "log_loss", "roc_auc", "mse", "rmse", "mae", "r2"}


def metric_name(entry: str) -> str:
    """The key a ``train.metrics`` entry is reported under: ``nets:macro_recall`` -> ``macro_recall``."""
    return entry.rsplit(":", 1)[1].rsplit(".", 1)[-1] if is_spec(entry) else entry


@cache
def scorer_names() -> frozenset[str]:
    return frozenset(get_scorer_names())


def check_metrics(entries: list[str]) -> None:
    """Each entry is a scorer name or a function spec, and the reported names are distinct."""
    names = [metric_name(e) for e in entries]
    for i, entry in enumerate(entries):
        if names[i] in BUILT_IN:
            raise ConfigError(f"train.metrics.{i}: {names[i]} is reported by every run already")
        if not is_spec(entry) and entry not in scorer_names():
            raise ConfigError(f"train.metrics.{i}: {entry!r} is neither a scikit-learn scorer name "
                              "(sklearn.metrics.get_scorer_names()) nor 'module:function'")  # fmt: skip
        if is_spec(entry):
            load(entry, f"train.metrics.{i}")
    if len(set(names)) < len(names):
        raise ConfigError(f"train.metrics: two entries are reported under the same name {names}")


def extra_scores(entries: list[str], pred: np.ndarray, y: np.ndarray, task: str,
                 mean: float = 0.0, std: float = 1.0) -> dict[str, float]:  # fmt: skip
    """The ``train.metrics`` scores of one part from the model's raw outputs ``pred``."""
    kind = _ClassOutputs if task == "classification" else _ValueOutputs
    outputs = kind(pred, task, mean, std)
    truth = y * np.asarray(std) + np.asarray(mean) if task == "regression" else y
    rows = np.arange(len(y))[:, None]  # the stand-in estimator's "X": row positions
    scores = {}
    for i, entry in enumerate(entries):
        if is_spec(entry):
            scores[metric_name(entry)] = _call(entry, truth, outputs.predict(rows), i)
        else:
            scores[entry] = _score(entry, outputs, rows, truth)
    return scores


def _score(name: str, outputs: _Outputs, rows: np.ndarray, truth: np.ndarray) -> float:
    try:
        return float(get_scorer(name)(outputs, rows, truth))
    except ValueError as exc:  # e.g. roc_auc on a part missing a class: not a number here
        if "only one class" in str(exc) or "not defined" in str(exc):
            return float("nan")
        raise ConfigError(f"train.metrics: {name}: scikit-learn cannot score this task "
                          f"({exc})") from None  # fmt: skip


def _call(spec: str, truth: np.ndarray, guess: np.ndarray, i: int) -> float:
    fn = load(spec, f"train.metrics.{i}")
    try:
        value = fn(truth, guess)
    except Exception as exc:  # the user's code
        raise ConfigError(f"train.metrics.{i}: {describe(spec)}(y_true, y_pred) raised "
                          f"{type(exc).__name__}: {exc}") from None  # fmt: skip
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"train.metrics.{i}: {describe(spec)} returned a "
                          f"{type(value).__name__}; expected one number") from None  # fmt: skip


class _Outputs(BaseEstimator):
    """A fitted-looking estimator whose answers for rows ``i`` are the model's outputs ``pred[i]``."""

    def __init__(self, pred: np.ndarray, task: str, mean: float, std: float):
        self.pred, self.task, self.mean, self.std = pred, task, mean, std
        if task == "classification":
            self.classes_ = np.arange(max(2, pred.shape[1]))

    def predict(self, rows: np.ndarray) -> np.ndarray:
        out = self.pred[rows[:, 0]]
        if self.task == "regression":  # one column per target when there are several
            return out[:, 0] * self.std + self.mean if out.shape[1] == 1 else (
                out * np.asarray(self.std) + np.asarray(self.mean))  # fmt: skip
        return (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(1)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        out = self.pred[rows[:, 0]]
        if out.shape[1] == 1:  # one logit: P(class 1) = sigmoid
            p1 = 1 / (1 + np.exp(-out[:, 0]))
            return np.stack([1 - p1, p1], axis=1)
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def decision_function(self, rows: np.ndarray) -> np.ndarray:
        out = self.pred[rows[:, 0]]
        if out.shape[1] == 1:
            return out[:, 0]
        return out[:, 1] - out[:, 0] if out.shape[1] == 2 else out


class _ClassOutputs(ClassifierMixin, _Outputs):
    pass


class _ValueOutputs(RegressorMixin, _Outputs):
    pass
