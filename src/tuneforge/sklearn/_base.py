"""What the classifier and the regressor share: parameters -> recipe, arrays -> data, the engine.

Training runs the same pieces, in the same order, as :func:`tuneforge.run.train`: a validated
``Config``, a ``Dataset`` (here from arrays), ``Recipe.build``, ``build_model`` and
``ModuleTrainer.fit``. There is no second training loop; only where the rows come from differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data
from torch.func import functional_call

from tuneforge.config import Config
from tuneforge.data import Dataset, from_arrays
from tuneforge.data.split import holdout
from tuneforge.engine.module import ModuleTrainer
from tuneforge.engine.setup import resolve_device
from tuneforge.errors import ConfigError, DataError
from tuneforge.models import build_model
from tuneforge.recipe import Recipe, lr_factors
from tuneforge.recipe.checks import check_monitors
from tuneforge.sklearn._persist import load_estimator, save_estimator
from tuneforge.sklearn._recipe import build_config, invalid, needs_validation

#: Feature dtypes kept as they are; anything else (ints, bools, objects) becomes float64.
FLOATS = (np.float64, np.float32)


class InvalidDataError(DataError, ValueError):
    """Bad ``X`` or ``y``: a :class:`DataError` that scikit-learn code sees as ValueError."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or Inf. ``GridSearchCV`` scores such a candidate ``error_score``."""


class NeuralNetBase(BaseEstimator):
    """Shared machinery; see :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor`."""

    _task: str  # "classification" | "regression"

    # ------------------------------------------------------------------------------ training
    def fit(self, X, y):
        """Train a new model on ``(X, y)`` from scratch; returns ``self``."""
        X, y = self._validate_xy(X, y, reset=True)
        cfg = self._config()
        train_rows, val_rows = self._holdout(y, cfg)
        data = self._dataset(cfg, X[train_rows], y[train_rows], X[val_rows], y[val_rows])
        self._train(cfg, data, partial=False)
        return self

    def _partial_fit(self, X, y, classes=None):
        """One more epoch over ``(X, y)``, continuing weights, optimizer state and schedule."""
        first = not hasattr(self, "module_")
        X, y = self._validate_xy(X, y, reset=first)
        cfg = self._config()
        cfg.train.early_stopping = None  # partial_fit holds out nothing to stop on
        if needs_validation(cfg):
            raise invalid("train.schedule: partial_fit holds out no validation rows, so a "
                          "plateau schedule must watch train/loss", type(self).__name__)  # fmt: skip
        encoder = None if first else self.encoder_
        data = self._dataset(cfg, X, y, X[:0], y[:0], classes=classes, encoder=encoder)
        self._train(cfg, data, partial=True)
        return self

    def _train(self, cfg: Config, data: Dataset, partial: bool) -> None:
        """Train as ``tuneforge train`` does: all ``epochs`` (fit) or one more epoch (partial)."""
        resume = partial and hasattr(self, "module_")
        done_epochs, done_steps = (self.n_iter_, self.t_) if resume else (0, 0)
        seed = cfg.train.seed + done_epochs  # a new shuffle order for each partial_fit epoch
        with _torch_seeded(seed, data.x["train"].device):  # dropout draws from torch's stream
            try:
                check_monitors(cfg, data)
                recipe = Recipe.build(cfg.train, data)
            except ConfigError as exc:
                raise invalid(str(exc), type(self).__name__) from None
            cfg.train.epochs = recipe.cfg.epochs  # `auto` resolved: config_ says what ran
            if partial:
                recipe = one_more_epoch(recipe, done_epochs, done_steps)
            model = self.module_ if resume else build_model(cfg.model, data.n_features,
                                                            recipe.n_outputs, seed=seed)  # fmt: skip
            trainer = ModuleTrainer(model.to(data.x["train"].device), data, recipe, seed=seed)
            if resume:
                trainer.optimizer.load_state_dict(self.optimizer_state_)
                trainer.epoch, trainer.step, trainer.history = done_epochs, done_steps, list(self.history_)
            result = trainer.fit()
        if result.status == "diverged":
            d = result.divergence
            raise TrainingDivergedError(
                f"{type(self).__name__}: training diverged at epoch {d['epoch']}, step {d['step']} "
                f"(lr {d['lr']:.3g}): the loss became NaN/Inf; lower lr or set clip_grad_norm"
            )
        self._keep(cfg, data, trainer, result)

    def _keep(self, cfg: Config, data: Dataset, trainer: ModuleTrainer, result) -> None:
        """The learned attributes (all ending in ``_``)."""
        self.module_ = trainer.model.eval()
        self.encoder_ = data.encoder
        if data.encoder.labels is not None:
            self.classes_ = data.encoder.labels.classes_
        self.config_ = cfg
        self.history_ = result.history
        self.n_iter_, self.t_ = trainer.epoch, trainer.step
        self.status_, self.best_epoch_ = result.status, result.best_epoch
        self.optimizer_state_ = trainer.optimizer.state_dict()

    # -------------------------------------------------------------------------- data and recipe
    def _config(self) -> Config:
        return build_config(self.get_params(deep=False), self._task, type(self).__name__)

    def _holdout(self, y: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation rows, as ``tuneforge train`` splits them (stratified, seeded)."""
        fraction, seed = cfg.data.split.val, cfg.data.split.seed
        if fraction == 0:
            return np.arange(len(y)), np.arange(0)
        try:
            return holdout(y, self._task, fraction, 0.0, seed)[:2]
        except DataError as exc:
            if self._task == "classification":
                # Too few rows to stratify (fewer validation rows than classes, or a class with
                # one row): early stopping still works on an unstratified validation part.
                with suppress(DataError):
                    return holdout(y, "regression", fraction, 0.0, seed)[:2]
            raise InvalidDataError(f"{type(self).__name__}: validation_fraction: {exc}") from None

    def _dataset(self, cfg, x_train, y_train, x_val, y_val, classes=None, encoder=None) -> Dataset:
        try:
            device = resolve_device(cfg.train.device)
        except ConfigError as exc:
            raise invalid(str(exc), type(self).__name__) from None
        names = getattr(self, "feature_names_in_", None)
        try:
            data = from_arrays(
                x_train, y_train, self._task, x_val, y_val,
                standardize=cfg.data.standardize, standardize_target=cfg.data.standardize_target,
                classes=classes, encoder=encoder, device=device,
                feature_names=None if names is None else list(names),
            )  # fmt: skip
        except DataError as exc:
            raise InvalidDataError(f"{type(self).__name__}: {exc}") from None
        if data.n_classes is not None and data.n_classes < 2:
            raise InvalidDataError(f"{type(self).__name__}: y has one class only; a classifier "
                                   "needs at least two")  # fmt: skip
        return data

    def _validate_xy(self, X, y, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        return validate_data(self, X, y, reset=reset, dtype=FLOATS)

    # ----------------------------------------------------------------------------- predicting
    def _outputs(self, X) -> np.ndarray:
        """The model's raw outputs (logits, or standardized values) for ``X``, as float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOATS)
        frame = pd.DataFrame(X, columns=list(self.encoder_.columns))
        device = next(self.module_.parameters()).device
        x = torch.as_tensor(self.encoder_.transform(frame, "X"), device=device)
        return predict_float64(self.module_, x).cpu().numpy()

    # ---------------------------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """Write the fitted estimator as a tuneforge run directory (no pickle); see :meth:`load`.

        ``tuneforge predict PATH rows.csv`` then works on it too (columns named as
        ``feature_names_in_``, or ``x0, x1, ...`` when fitted on an array).
        """
        check_is_fitted(self)
        return save_estimator(self, path)

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save`: safetensors, skops and JSON only."""
        return load_estimator(cls, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # no imputation: put a SimpleImputer in the Pipeline
        tags.input_tags.sparse = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False  # one target column (see NeuralNetRegressor)
        tags.non_deterministic = False  # same seed, same data -> same weights
        return tags


def one_more_epoch(plan: Recipe, done_epochs: int, done_steps: int) -> Recipe:
    """``plan`` (what ``fit`` would follow) cut to the one epoch after ``done_epochs``.

    The learning rate keeps following the schedule's formula past the planned ``epochs``, except
    for the curves drawn over the whole run (``onecycle``, ``cosine`` without a ``period``):
    they hold their last value.
    """
    schedule = plan.cfg.schedule
    per_step = schedule.interval == "step"
    needed = done_steps + plan.steps_per_epoch if per_step else done_epochs + 1
    factors = plan.factors
    if len(factors) < needed:
        spans_run = schedule.name == "onecycle" or getattr(schedule, "period", 0) is None
        factors = (torch.cat([factors, factors[-1:].expand(needed - len(factors))]) if spans_run
                   else lr_factors(schedule, needed, plan.cfg.optimizer.lr))  # fmt: skip
    one_more = plan.cfg.model_copy(update={"epochs": done_epochs + 1})
    return dataclasses.replace(plan, cfg=one_more, factors=factors)


@torch.no_grad()
def predict_float64(module: torch.nn.Module, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """``module``'s eval-mode outputs computed in float64 from its (float32) weights.

    Why not float32 as in training: float32 kernels round differently for different batch
    sizes (gemv for one row, blocked gemm for many), so a row's prediction would change in the
    7th digit with the rows beside it; scikit-learn's checks (and users) expect predicting a
    subset to give the same numbers. The cost is one cast of the weights per call.
    """
    state = {k: v.double() if v.is_floating_point() else v for k, v in module.state_dict().items()}
    was_training = module.training
    module.eval()
    try:
        return torch.cat([functional_call(module, state, (x[i : i + chunk].double(),))
                          for i in range(0, len(x), chunk)])  # fmt: skip
    finally:
        module.train(was_training)


@contextmanager
def _torch_seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generator for this block only, leaving the caller's stream untouched."""
    devices = [device.index or torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
