"""Checks of a recipe against the data it will train on (both engines run them first).

The schema catches these contradictions when ``data.task`` is written out; here the task may
have been inferred from the target column.
"""

from __future__ import annotations

from tuneforge.config import Config
from tuneforge.errors import ConfigError
from tuneforge.usercode import is_spec

#: The task each loss is made for; the data's task (given or inferred) must match it.
LOSS_TASK = {"mse": "regression", "mae": "regression", "huber": "regression",
             "cross_entropy": "classification", "bce": "classification"}  # fmt: skip
_LOSS_FIX = {"regression": "use mse, mae or huber",
             "classification": "use cross_entropy or bce, or set data.task: regression"}  # fmt: skip


def check_against_data(cfg: Config, data) -> None:
    """Loss and model against the task, the watched metrics, token ids against the vocabulary."""
    source, task = cfg.data.source, data.task
    loss = cfg.train.loss
    if loss in LOSS_TASK and LOSS_TASK[loss] != task:  # a user's loss (module:function) fits any
        raise ConfigError(f"train.loss: {loss} is a {LOSS_TASK[loss]} loss but {source} is a "
                          f"{task} task; {_LOSS_FIX[task]}")  # fmt: skip
    if data.targets and is_spec(loss or ""):
        raise ConfigError(f"train.loss: {loss} takes one target per row, but data.target lists "
                          f"{len(data.targets)} columns; use mse, mae or huber")  # fmt: skip
    if cfg.model.kind == "logistic" and task == "regression":
        raise ConfigError(f"model.kind: logistic needs a classification task but {source} is "
                          "a regression task; use kind: linear")  # fmt: skip
    check_monitors(cfg, data)
    _check_token_ids(cfg, data)


def check_monitors(cfg: Config, data) -> None:
    """Early stopping, plateau and stop_at watch per-epoch metrics; val/... needs a validation part."""
    watched = {"train.early_stopping.monitor": cfg.train.early_stopping and cfg.train.early_stopping.monitor,
               "train.schedule.monitor": getattr(cfg.train.schedule, "monitor", None),
               "train.stop_at.metric": cfg.train.stop_at and cfg.train.stop_at.metric}  # fmt: skip
    names = {"loss", "accuracy", "f1"} if data.task == "classification" else {"loss", "mse", "rmse", "mae", "r2"}
    names |= {f"{name}/{target}" for name in names - {"loss"} for target in data.targets}
    for key, metric in watched.items():
        if not metric:
            continue
        part, _, name = metric.partition("/")
        if part not in ("train", "val") or name not in names or (part == "train" and name != "loss"):
            raise ConfigError(f"{key}: {metric!r} is not a per-epoch metric; expected train/loss "
                              f"or val/ one of {sorted(names)}")  # fmt: skip
        if part == "val" and data.size("val") == 0:
            raise ConfigError(f"{key}: watches {metric} but data.split.val is 0 (no validation rows)")


def _check_token_ids(cfg: Config, data) -> None:
    vocab = getattr(cfg.model, "vocab_size", None)
    x = data.x["train"]
    if vocab is not None and not x.is_floating_point() and len(x) and int(x.max()) >= vocab:
        raise ConfigError(f"model.vocab_size: {vocab}, but {cfg.data.source} holds token id "
                          f"{int(x.max())}; ids must lie in [0, vocab_size)")  # fmt: skip
