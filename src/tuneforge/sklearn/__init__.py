"""scikit-learn estimators running tuneforge's engine: ``Pipeline``, ``GridSearchCV``, ``clone``.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_val_score
    >>> from tuneforge.sklearn import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(NeuralNetClassifier(hidden=(16,), lr=0.01, epochs=5), X, y, cv=3)
    >>> scores.shape
    (3,)

See ``docs/sklearn.md`` for the parameter table and how ``l2`` maps to scikit-learn's ``alpha``/``C``.
"""

from __future__ import annotations

from tuneforge.sklearn._base import InvalidDataError, TrainingDivergedError
from tuneforge.sklearn._classifier import NeuralNetClassifier
from tuneforge.sklearn._recipe import RECIPE_KEYS, InvalidParameterError
from tuneforge.sklearn._regressor import NeuralNetRegressor

__all__ = [
    "RECIPE_KEYS",
    "InvalidDataError",
    "InvalidParameterError",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "TrainingDivergedError",
]
