"""``NeuralNetRegressor``: tuneforge's engine as a scikit-learn regressor."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import column_or_1d, validate_data

from tuneforge.sklearn._base import FLOATS, InvalidDataError, NeuralNetBase


class NeuralNetRegressor(RegressorMixin, NeuralNetBase):
    """A neural-network regressor trained by tuneforge's engine (the one ``tuneforge train`` runs).

    Parameters are :class:`NeuralNetClassifier`'s, except:

    Args:
        model: ``"mlp"`` or ``"linear"`` (one linear layer: least squares / ridge / lasso).
        loss: ``mse`` (default), ``mae`` or ``huber``.
        huber_delta: the Huber loss's δ (in standardized target units).
        monitor: ``val/loss``, ``val/mse``, ``val/rmse``, ``val/mae`` or ``val/r2`` (or ``train/loss``).
        standardize_target: train on ``(y - mean) / std`` of the training targets; predictions
            come back in ``y``'s units. (An L2 penalty on a linear model keeps the same solution
            either way: both terms scale by 1/std².)

    ``y`` must be one column: multi-output regression is not supported (wrap the estimator in
    ``sklearn.multioutput.MultiOutputRegressor``).

    Attributes:
        As :class:`NeuralNetClassifier`, without ``classes_``; ``encoder_.target_mean`` and
        ``encoder_.target_std`` hold the target scaling.

    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = NeuralNetRegressor(hidden=(32,), lr=0.01, epochs=30).fit(X, y)
        >>> reg.predict(X[:3]).shape
        (3,)
    """

    _task = "regression"

    def __init__(
        self,
        model="mlp",
        hidden=(128, 64),
        activation="relu",
        init=None,
        dropout=0.0,
        norm=None,
        loss=None,
        huber_delta=1.0,
        optimizer="adam",
        lr=None,
        optimizer_params=None,
        batch_size=64,
        epochs="auto",
        l1=0.0,
        l2=0.0,
        l1_mode="penalty",
        schedule="constant",
        schedule_params=None,
        clip_grad_norm=None,
        early_stopping=False,
        monitor="val/loss",
        patience=10,
        validation_fraction=0.1,
        standardize=True,
        standardize_target=True,
        seed=0,
        device="auto",
    ):
        self.model = model
        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.dropout = dropout
        self.norm = norm
        self.loss = loss
        self.huber_delta = huber_delta
        self.optimizer = optimizer
        self.lr = lr
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.epochs = epochs
        self.l1 = l1
        self.l2 = l2
        self.l1_mode = l1_mode
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.monitor = monitor
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.standardize_target = standardize_target
        self.seed = seed
        self.device = device

    def partial_fit(self, X, y):
        """Train one more epoch on ``(X, y)``, continuing from the current weights.

        The first call (without an earlier ``fit``) fits the feature and target scaling on its
        rows; later calls reuse it.
        """
        return self._partial_fit(X, y)

    def predict(self, X) -> np.ndarray:
        """Predicted values, shape ``(n,)``, in the units of ``y``."""
        out = self._outputs(X)[:, 0]
        return out * self.encoder_.target_std + self.encoder_.target_mean

    def _validate_xy(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=FLOATS, y_numeric=True, multi_output=True)
        if y.ndim == 2 and y.shape[1] > 1:
            raise InvalidDataError(
                f"{type(self).__name__}: y has {y.shape[1]} columns; multi-output regression "
                "is not supported (use sklearn.multioutput.MultiOutputRegressor)"
            )
        return X, column_or_1d(y, warn=True)  # a column vector warns, as scikit-learn's own
