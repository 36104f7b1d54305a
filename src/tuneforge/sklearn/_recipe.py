"""Estimator parameters -> a validated :class:`~tuneforge.Config`, and errors back to parameters.

The estimators hold flat scikit-learn parameters (``lr``, ``hidden``, ``l2``...); each one sets
one recipe key. :data:`RECIPE_KEYS` is that table, so the recipe a user writes in YAML and the
estimator they grid-search are the same thing under two spellings, and an error about a recipe
key is reported under the parameter's name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from tuneforge.config import Config, set_dotted
from tuneforge.config.messages import format_validation_error
from tuneforge.errors import ConfigError

#: Estimator parameter -> the recipe key it sets.
RECIPE_KEYS: dict[str, str] = {
    "model": "model.kind",
    "hidden": "model.hidden",
    "activation": "model.activation",
    "init": "model.init",
    "dropout": "model.dropout",
    "norm": "model.norm",
    "loss": "train.loss",
    "label_smoothing": "train.label_smoothing",
    "huber_delta": "train.huber_delta",
    "optimizer_params": "train.optimizer",
    "optimizer": "train.optimizer.name",
    "lr": "train.optimizer.lr",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
    "l1": "train.regularization.l1",
    "l2": "train.regularization.l2",
    "l1_mode": "train.regularization.l1_mode",
    "schedule_params": "train.schedule",
    "schedule": "train.schedule.name",
    "clip_grad_norm": "train.clip_grad_norm",
    "early_stopping": "train.early_stopping",
    "monitor": "train.early_stopping.monitor",
    "patience": "train.early_stopping.patience",
    "seed": "train.seed",
    "device": "train.device",
    "validation_fraction": "data.split.val",
    "standardize": "data.standardize",
    "standardize_target": "data.standardize_target",
}
#: Parameters that only an MLP has; linear and logistic models ignore them.
MLP_ONLY = {"hidden", "activation", "dropout", "norm"}
#: Parameters whose ``None`` means "the recipe's default for this model, task or optimizer".
NONE_IS_DEFAULT = {"init", "loss", "lr"}
#: Composed by hand below rather than set directly.
COMPOSED = {"optimizer_params", "schedule_params", "early_stopping", "monitor", "patience"}
#: Keys of the ``*_params`` dicts that have a parameter of their own.
OWN_PARAMETER = {"optimizer_params": {"name": "optimizer", "lr": "lr"},
                 "schedule_params": {"name": "schedule"}}  # fmt: skip


class InvalidParameterError(ConfigError, ValueError):
    """A bad estimator parameter: a :class:`ConfigError` that scikit-learn code sees as ValueError."""


def build_config(params: dict[str, Any], task: str, owner: str) -> Config:
    """Validate ``params`` (an estimator's ``get_params()``) into the recipe it trains.

    Raises:
        InvalidParameterError: one line naming the parameter and what it expects.
    """
    raw = recipe_dict({name: _plain(value) for name, value in params.items()}, task, owner)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise invalid(format_validation_error(exc), owner) from None
    except ConfigError as exc:  # Config's own __init__ turns validation errors into this
        raise invalid(getattr(exc, "detail", str(exc)), owner) from None
    if not needs_validation(cfg):
        cfg.data.split.val = 0.0  # no rows are held out unless something watches them
    return cfg


def recipe_dict(params: dict[str, Any], task: str, owner: str) -> dict[str, Any]:
    """The raw recipe (before validation) that ``params`` spell."""
    raw: dict[str, Any] = {
        "name": owner,
        "data": {"source": "arrays", "task": task, "split": {"test": 0.0, "seed": params["seed"]}},
        "train": {"checkpoint_every": 0},
    }
    for name, own in OWN_PARAMETER.items():
        extra = params[name] or {}
        if not isinstance(extra, dict):
            raise InvalidParameterError(f"{owner}: {name}: expected a dict or None (got {extra!r})")
        clash = sorted(set(own) & set(extra))
        if clash:
            raise InvalidParameterError(
                f"{owner}: {name}: {clash[0]!r} has its own parameter, {own[clash[0]]}"
            )
        set_dotted(raw, RECIPE_KEYS[name], dict(extra))
    for name, value in params.items():
        if name in COMPOSED or (name in NONE_IS_DEFAULT and value is None):
            continue
        if name in MLP_ONLY and params["model"] != "mlp":
            continue
        if name == "hidden" and isinstance(value, int):
            value = [value]  # one hidden layer, as MLPClassifier's hidden_layer_sizes=100
        set_dotted(raw, RECIPE_KEYS[name], value)
    if params["early_stopping"] is True:
        raw["train"]["early_stopping"] = {"monitor": params["monitor"], "patience": params["patience"]}
    elif params["early_stopping"] is not False:
        raise InvalidParameterError(
            f"{owner}: early_stopping: expected True or False (got {params['early_stopping']!r})"
        )
    return raw


def needs_validation(cfg: Config) -> bool:
    """Early stopping or a plateau schedule that watches a ``val/`` metric needs held-out rows."""
    watched = [cfg.train.early_stopping and cfg.train.early_stopping.monitor,
               getattr(cfg.train.schedule, "monitor", None)]  # fmt: skip
    return any(isinstance(metric, str) and metric.startswith("val/") for metric in watched)


def invalid(message: str, owner: str) -> InvalidParameterError:
    """``"<recipe key>: <what>"`` -> ``"<Estimator>: <parameter>[: <key inside it>]: <what>"``."""
    key, sep, what = message.partition(": ")
    param = parameter_for(key) if sep else None
    if param is None:
        return InvalidParameterError(f"{owner}: {message}")
    own = RECIPE_KEYS[param]
    inside = key.removeprefix(own + ".") if key.startswith(own + ".") else ""
    return InvalidParameterError(f"{owner}: {param}: {inside + ': ' if inside else ''}{what}")


def parameter_for(key: str) -> str | None:
    """The parameter that sets ``key``, or the nearest enclosing one (``optimizer_params``)."""
    owners = [(len(k), name) for name, k in RECIPE_KEYS.items() if key == k or key.startswith(k + ".")]
    if owners:
        return max(owners)[1]
    inside = [name for name, k in RECIPE_KEYS.items() if k.startswith(key + ".")]
    return inside[0] if inside else None


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays (e.g. from a grid) as Python values pydantic accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
