"""Extra scores of ``train.metrics``: scikit-learn scorer names, or the user's ``module:function``.

A scorer name (``balanced_accuracy``, ``matthews_corrcoef``, ``roc_auc_ovr``,
``neg_mean_absolute_percentage_error``...) is scored by scikit-learn's own scorer object, so its
sign, keyword arguments and response method (labels, probabilities or decision values) are
scikit-learn's: :class:`~tuneforge.evaluate.stand_in.Outputs` is a stand-in estimator that
hands the scorer the model's outputs. Scorers are greater-is-better, so each one is maximized as
a tuning objective. scikit-learn is imported where a score is made or a name is checked, not by
every command that imports this module (``predict`` on rows without a target scores nothing).

A ``module:function`` is called as ``fn(y_true, y_pred)`` -> float: class indices (0..C-1, in
the order of the sorted labels) for classification, values in the target's units for
regression. Its direction is not known, so ``tune.objective`` must give one.

Each score is reported under its name (a function's attribute name: ``val/macro_recall``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from tuneforge.errors import ConfigError
from tuneforge.usercode import describe, is_spec, load

if TYPE_CHECKING:
    from tuneforge.evaluate.stand_in import Outputs

#: Scores every run reports already (evaluate/metrics.py); listing one again is an error.
BUILT_IN = {"loss", "accuracy", "f1", "log_loss", "roc_auc", "mse", "rmse", "mae", "r2"}


def metric_name(entry: str) -> str:
    """The key a ``train.metrics`` entry is reported under: ``nets:macro_recall`` -> ``macro_recall``."""
    return entry.rsplit(":", 1)[1].rsplit(".", 1)[-1] if is_spec(entry) else entry


@cache
def scorer_names() -> frozenset[str]:
    from sklearn.metrics import get_scorer_names

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
    from tuneforge.evaluate.stand_in import ClassOutputs, ValueOutputs

    kind = ClassOutputs if task == "classification" else ValueOutputs
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


def _score(name: str, outputs: Outputs, rows: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.metrics import get_scorer

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
