"""The stand-in estimator scikit-learn's scorers are handed (``train.metrics`` scorer names).

Its own module because it subclasses scikit-learn's ``BaseEstimator``: importing it imports
scikit-learn, which :mod:`tuneforge.evaluate.scorers` does only when a score is made.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin


class Outputs(BaseEstimator):
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


class ClassOutputs(ClassifierMixin, Outputs):
    pass


class ValueOutputs(RegressorMixin, Outputs):
    pass
