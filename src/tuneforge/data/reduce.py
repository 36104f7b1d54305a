"""``data.prep``: polynomial features, feature selection and PCA after the encoding.

Every step is a scikit-learn transformer fitted on the training rows only (inside each fold under
k-fold, since ``prepare`` encodes per fold) and chained behind the ``ColumnTransformer`` in one
``Pipeline``, so ``encoder.skops`` carries it and ``evaluate``/``predict`` apply the same
transform. The order is fixed: polynomial -> select -> pca (expand, keep the informative
columns, then decorrelate what is left).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.feature_selection import (
    SelectFromModel,
    SelectKBest,
    f_classif,
    f_regression,
    mutual_info_classif,
    mutual_info_regression,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures

from tuneforge.config.transforms import PCAConfig, PolynomialConfig, PrepConfig, SelectConfig
from tuneforge.errors import ConfigError

CLASSIFICATION = "classification"


def _univariate(score: Callable, classify: Callable, regress: Callable):
    def build(cfg: SelectConfig, task: str, seed: int) -> TransformerMixin:
        func = classify if task == CLASSIFICATION else regress
        return SelectKBest(score(func, seed), k=cfg.k)

    return build


def _model_based(classify: Callable, regress: Callable):
    def build(cfg: SelectConfig, task: str, seed: int) -> TransformerMixin:
        model = (classify if task == CLASSIFICATION else regress)(seed)
        # threshold=-inf: rank by importance and keep exactly max_features columns.
        return SelectFromModel(model, max_features=cfg.k, threshold=-np.inf)

    return build


#: data.prep.select.score -> a builder of the (unfitted) scikit-learn selector.
SELECTORS = {
    "f_test": _univariate(lambda f, seed: f, f_classif, f_regression),
    "mutual_info": _univariate(lambda f, seed: partial(f, random_state=seed),
                               mutual_info_classif, mutual_info_regression),  # fmt: skip
    "linear": _model_based(lambda seed: LogisticRegression(max_iter=2000),
                           lambda seed: Ridge(alpha=1.0)),  # fmt: skip
    "forest": _model_based(lambda seed: RandomForestClassifier(100, random_state=seed, n_jobs=1),
                           lambda seed: RandomForestRegressor(100, random_state=seed, n_jobs=1)),
}  # fmt: skip


def _polynomial(cfg: PolynomialConfig, task: str, seed: int) -> TransformerMixin:
    return PolynomialFeatures(cfg.degree, interaction_only=cfg.interaction_only, include_bias=False)


def _select(cfg: SelectConfig, task: str, seed: int) -> TransformerMixin:
    return SELECTORS[cfg.score](cfg, task, seed)


def _pca(cfg: PCAConfig, task: str, seed: int) -> TransformerMixin:
    # svd_solver="full": exact and deterministic, the same components as PCA() on these rows.
    return PCA(cfg.components, whiten=cfg.whiten, svd_solver="full")


#: The steps in their fixed order: name -> builder.
STEPS = {"polynomial": _polynomial, "select": _select, "pca": _pca}


def check_width(name: str, cfg, n_rows: int, n_columns: int) -> None:
    """A ConfigError when a step asks for more columns than reach it."""
    if name == "select" and cfg.k > n_columns:
        raise ConfigError(f"data.prep.select.k: {cfg.k} is more than the {n_columns} feature "
                          "columns that reach the selector")  # fmt: skip
    if name == "pca" and isinstance(cfg.components, int):
        most = min(n_rows, n_columns)
        if cfg.components > most:
            raise ConfigError(f"data.prep.pca.components: {cfg.components} is more than "
                              f"min(training rows, columns) = {most}")  # fmt: skip


def fit_prep(
    columns: ColumnTransformer,
    prep: PrepConfig | None,
    train_frame,
    y_train: np.ndarray,
    task: str,
    seed: int = 0,
) -> ColumnTransformer | Pipeline:
    """Chain the fitted ``columns`` encoding with the ``prep`` steps fitted on the same rows.

    Returns ``columns`` itself when no step is configured (an encoder saved before ``data.prep``
    existed looks the same).
    """
    wanted = [(name, getattr(prep, name)) for name in STEPS if prep and getattr(prep, name)]
    if not wanted:
        return columns
    x = columns.transform(train_frame)
    steps = []
    for name, cfg in wanted:
        check_width(name, cfg, *x.shape)
        step = STEPS[name](cfg, task, seed)
        with warnings.catch_warnings():
            # Constant columns (digits' blank corners) score NaN: SelectKBest ranks them last,
            # which is the right outcome; the warning would only alarm.
            warnings.filterwarnings("ignore", r"Features \[[\s\S]*are constant", UserWarning)
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            x = step.fit_transform(x, y_train)
        if isinstance(step, SelectKBest) and isinstance(step.score_func, partial):
            # The scores are fitted; keep the plain scikit-learn function so skops stores a
            # trusted sklearn type rather than a functools.partial.
            step.score_func = step.score_func.func
        steps.append((name, step))
    return Pipeline([("encode", columns), *steps])
