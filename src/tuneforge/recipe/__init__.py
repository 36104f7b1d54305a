"""Recipe pieces both engines use: losses, optimizers, regularization, schedules.

:class:`Recipe` resolves a ``train`` config against a data set once (loss function, output
count, batch size, the learning-rate multipliers of the whole run), so the module engine and the
cohort engine read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.config.schema import TrainConfig
from tuneforge.errors import ConfigError
from tuneforge.recipe.budget import with_epochs
from tuneforge.recipe.losses import (
    LOSSES,
    Loss,
    check_user_loss,
    default_loss,
    make_loss,
    n_outputs,
)
from tuneforge.recipe.optimizers import OPTIMIZERS, make_optimizer
from tuneforge.recipe.regularization import (
    add_penalty_grad_,
    penalized_parameters,
    penalty,
    soft_threshold_,
)
from tuneforge.recipe.schedules import SCHEDULES, Plateau, lr_factors
from tuneforge.usercode import is_spec

__all__ = [
    "add_penalty_grad_",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "Plateau",
    "Recipe",
    "accumulation_weights",
    "objective_weights",
    "lr_factors",
    "make_optimizer",
    "penalized_parameters",
    "penalty",
    "soft_threshold_",
]


@dataclass
class Recipe:
    """A ``train`` config resolved against one data set."""

    cfg: TrainConfig
    task: str
    loss_name: str
    loss: Loss
    n_classes: int | None
    n_outputs: int
    batch_size: int | None  # None: the full training set (gradient descent)
    batches_per_epoch: int
    steps_per_epoch: int  # optimizer steps, after gradient accumulation
    factors: torch.Tensor  # learning-rate multiplier per step (or per epoch)
    target_mean: float | tuple[float, ...] = 0.0
    target_std: float | tuple[float, ...] = 1.0
    targets: tuple[str, ...] = ()  # several regression targets: their columns (one output each)

    @classmethod
    def build(cls, cfg: TrainConfig, data) -> Recipe:
        cfg = with_epochs(cfg, data.size("train"))  # `auto` -> a number of epochs
        name = cfg.loss or default_loss(data.task)
        if name == "bce" and data.n_classes != 2:
            raise ConfigError(f"train.loss: bce needs 2 classes, the data has {data.n_classes}; "
                              "use cross_entropy")  # fmt: skip
        n_train = data.size("train")
        batch_size = None if cfg.batch_size == "full" else min(cfg.batch_size, n_train)
        batches = 1 if batch_size is None else -(-n_train // batch_size)
        steps = -(-batches // cfg.accumulate)
        per_epoch = cfg.schedule.interval == "epoch"
        budget = _step_budget(steps, cfg)
        total = -(-budget // steps) if per_epoch else budget
        loss, outputs = make_loss(cfg, data.task), n_outputs(name, data.n_classes, len(data.targets))
        if is_spec(name):  # the user's loss: its shape is checked before the first step
            check_user_loss(name, loss, outputs, data.y["train"].cpu())
        return cls(
            cfg=cfg,
            task=data.task,
            loss_name=name,
            loss=loss,
            n_classes=data.n_classes,
            n_outputs=outputs,
            batch_size=batch_size,
            batches_per_epoch=batches,
            steps_per_epoch=steps,
            factors=lr_factors(cfg.schedule, total, cfg.optimizer.lr),
            target_mean=data.encoder.target_mean,
            target_std=data.encoder.target_std,
            targets=data.targets,
        )

    def mean_loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss averaged over rows in one fused op (one model, no member dims)."""
        return self.loss(pred, y, reduction="mean")

    def form_factor(self, rows: int) -> float:
        """What turns a batch's mean loss into the loss a step minimizes (``train.loss_scale``
        and ``train.loss_reduction``): ``scale`` for the mean, ``scale · rows`` for the sum."""
        return self.cfg.loss_scale * (rows if self.cfg.loss_reduction == "sum" else 1)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run: every epoch's, or ``max_steps`` when fewer."""
        return _step_budget(self.steps_per_epoch, self.cfg)

    @property
    def epochs(self) -> int:
        """Epochs the run trains (the last one cut short when ``max_steps`` ends it)."""
        return -(-self.total_steps // self.steps_per_epoch)


def _step_budget(steps_per_epoch: int, cfg: TrainConfig) -> int:
    """Every epoch's optimizer steps, or ``train.max_steps`` when fewer."""
    steps = steps_per_epoch * cfg.epochs
    return min(steps, cfg.max_steps or steps)


def objective_weights(n_rows: int, batch_size: int | None, accumulate: int, reduction: str = "mean",
                      scale: float = 1.0) -> list[float]:  # fmt: skip
    """Factor of each micro-batch's mean loss in the loss its step minimizes.

    ``mean``: ``scale`` × its :func:`accumulation_weights` (rows here / rows in the group), so
    the step follows scale × the mean over the group's rows. ``sum``: ``scale`` × its rows, so
    the step follows scale × the sum over the group's rows (mean × rows = sum).
    """
    if reduction == "mean":
        return [scale * w for w in accumulation_weights(n_rows, batch_size, accumulate)]
    size = n_rows if batch_size is None else batch_size
    return [scale * min(size, n_rows - start) for start in range(0, n_rows, size)]


def accumulation_weights(n_rows: int, batch_size: int | None, accumulate: int) -> list[float]:
    """Weight of each micro-batch's mean loss under gradient accumulation.

    Micro-batch ``i`` of an epoch is weighted by its rows over the rows of its accumulation
    group, so one accumulated step follows the mean loss over the group's rows: exactly the step
    one batch of ``accumulate·batch_size`` rows would take, also for the last, shorter group
    (a plain division by ``accumulate`` would shrink that one).
    """
    if batch_size is None:
        return [1.0]
    sizes = [min(batch_size, n_rows - start) for start in range(0, n_rows, batch_size)]
    weights: list[float] = []
    for first in range(0, len(sizes), accumulate):
        group = sizes[first : first + accumulate]
        weights += [size / sum(group) for size in group]
    return weights
