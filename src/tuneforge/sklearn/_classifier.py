"""``NeuralNetClassifier``: tuneforge's engine as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from tuneforge.sklearn._base import InvalidDataError, NeuralNetBase


class NeuralNetClassifier(ClassifierMixin, NeuralNetBase):
    """A neural-network classifier trained by tuneforge's engine (the one ``tuneforge train`` runs).

    Every parameter sets one recipe key (``docs/sklearn.md`` has the table); ``__init__`` only
    stores them and ``fit`` validates them, raising :class:`InvalidParameterError` (a
    ``ValueError``) that names the parameter.

    Args:
        model: ``"mlp"`` or ``"logistic"`` (one linear layer + softmax: multinomial logistic
            regression). Recipe key ``model.kind``.
        hidden: MLP hidden widths, e.g. ``(128, 64)``; an int means one layer.
        activation: ``relu``, ``tanh``, ``sigmoid``, ``gelu`` or ``leaky_relu`` (MLP only).
        init: ``he``, ``xavier`` or ``default`` (torch's); None: the model's recipe default.
        dropout: dropout probability after each hidden layer (MLP only).
        norm: ``None``, ``"batch"`` or ``"layer"`` normalization in each hidden layer (MLP only).
        loss: ``cross_entropy`` (default) or ``bce`` (binary only: one logit).
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        optimizer: ``adam``, ``adamw``, ``sgd``, ``rmsprop`` or ``adagrad`` (torch.optim).
        lr: learning rate; None: the optimizer's default (1e-3 for adam/adamw, else 1e-2).
        optimizer_params: more optimizer keys, e.g. ``{"momentum": 0.9, "nesterov": True}``.
        batch_size: rows per step, or ``"full"`` for full-batch gradient descent.
        epochs: passes over the training rows (``fit``); ``partial_fit`` adds one. ``auto``
            (default): enough epochs for 300 optimizer steps, 20 to 200 (as ``tuneforge
            train``; docs/recipes.md, "Training budget").
        l1, l2: penalty strengths λ₁, λ₂ in J = mean loss + λ₁Σ|w| + λ₂Σw² over the weights
            (not biases). ``LogisticRegression(C)`` is ``l2 = 1 / (2·n·C)``.
        l1_mode: ``penalty`` (a term in the loss) or ``proximal`` (soft-threshold: exact zeros).
        schedule: learning-rate schedule: ``constant``, ``inverse_time``, ``exponential``,
            ``step``, ``cosine``, ``plateau`` or ``onecycle``.
        schedule_params: its keys, e.g. ``{"decay": 0.01}`` or ``{"warmup_steps": 100}``.
        clip_grad_norm: clip the gradient's global norm to this value (None: no clipping).
        early_stopping: hold out ``validation_fraction`` of the rows (stratified) and stop when
            ``monitor`` has not improved for ``patience`` epochs; the best epoch's weights are kept.
        monitor: ``val/loss``, ``val/accuracy`` or ``val/f1`` (or ``train/loss``).
        patience: epochs without improvement before stopping.
        validation_fraction: share of rows held out when early stopping or a plateau schedule
            watches a ``val/`` metric; otherwise every row trains.
        standardize: scale features to mean 0, variance 1 (fitted on the training rows).
        seed: seeds initial weights, shuffling, dropout and the validation split.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.

    Attributes:
        classes_: the labels, sorted; ``predict_proba`` columns follow this order.
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: column names, when ``X`` was a DataFrame with string names.
        module_: the trained ``torch.nn.Module`` (in eval mode); it outputs logits.
        history_: one dict per epoch: ``epoch``, ``step``, ``lr``, ``train/loss``, ``val/...``.
        n_iter_: epochs trained; ``t_``: optimizer steps taken.
        status_: ``completed`` or ``early_stopped``; ``best_epoch_``: the epoch kept.
        config_: the resolved :class:`tuneforge.Config` that was trained.
        encoder_: the fitted feature scaling and label encoding.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = NeuralNetClassifier(hidden=(32,), lr=0.01, epochs=30).fit(X, y)
        >>> clf.predict_proba(X[:2]).shape
        (2, 3)
    """

    _task = "classification"

    def __init__(
        self,
        model="mlp",
        hidden=(128, 64),
        activation="relu",
        init=None,
        dropout=0.0,
        norm=None,
        loss=None,
        label_smoothing=0.0,
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
        self.label_smoothing = label_smoothing
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
        self.seed = seed
        self.device = device

    def partial_fit(self, X, y, classes=None):
        """Train one more epoch on ``(X, y)``, continuing from the current weights.

        Args:
            classes: every label the model will ever see; required on the first call (a batch
                may not show them all), optional later (must then equal ``classes_``).
        """
        if not hasattr(self, "module_"):
            if classes is None:
                raise InvalidDataError(f"{type(self).__name__}: classes must be passed on the "
                                       "first call to partial_fit")  # fmt: skip
            classes = np.unique(np.asarray(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InvalidDataError(f"{type(self).__name__}: classes {list(classes)} differ from "
                                   f"classes_ {self.classes_.tolist()} of the earlier calls")  # fmt: skip
        return self._partial_fit(X, y, classes)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, from ``classes_``."""
        best = np.argmax(self.predict_log_proba(X), axis=1)
        return self.classes_[best]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)`` (``(n, 2)`` for binary, also with bce)."""
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed stably (float64) from the logits."""
        logits = torch.from_numpy(self._outputs(X))
        if logits.shape[1] == 1:  # bce: one logit, P(classes_[1]) = sigmoid
            logits = torch.cat([torch.zeros_like(logits), logits], dim=1)  # softmax([0, z]) = σ
        return torch.log_softmax(logits, dim=1).numpy()

    def _validate_xy(self, X, y, reset: bool):
        X, y = super()._validate_xy(X, y, reset)
        check_classification_targets(y)
        return X, y
