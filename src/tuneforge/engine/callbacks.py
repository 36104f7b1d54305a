"""Early stopping (watch one metric, stop after ``patience`` epochs without improvement) and
``stop_at`` (stop once a metric crosses a threshold)."""

from __future__ import annotations

import math

import torch

from tuneforge.config.schema import EarlyStoppingConfig, StopAtConfig
from tuneforge.evaluate.metrics import mode


class EarlyStopping:
    """Keeps the best epoch's weights (on the host) and says when to stop."""

    def __init__(self, cfg: EarlyStoppingConfig):
        self.cfg = cfg
        self.mode = cfg.mode or mode(cfg.monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.cfg.min_delta
        return value > self.best + self.cfg.min_delta

    def update(self, value: float, epoch: int, model: torch.nn.Module) -> bool:
        """Record one epoch's value; return True when training should stop."""
        if math.isfinite(value) and self.improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            if self.cfg.restore_best:
                self.best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.cfg.patience

    def restore(self, model: torch.nn.Module) -> None:
        if self.best_weights is not None:
            model.load_state_dict(self.best_weights)

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        scalars = {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}
        tensors = {f"best.{k}": v for k, v in (self.best_weights or {}).items()}
        return scalars, tensors

    def load(self, scalars: dict, tensors: dict[str, torch.Tensor]) -> None:
        self.best, self.best_epoch = scalars["best"], scalars["best_epoch"]
        self.bad_epochs = scalars["bad_epochs"]
        weights = {k.removeprefix("best."): v for k, v in tensors.items() if k.startswith("best.")}
        self.best_weights = weights or None


#: A run's status when ``train.stop_at`` ended it.
THRESHOLD_REACHED = "threshold_reached"


def threshold_reached(cfg: StopAtConfig | None, record: dict) -> bool:
    """Whether this epoch's record crossed ``train.stop_at`` (NaN and a missing value never do)."""
    if cfg is None:
        return False
    value = record.get(cfg.metric, math.nan)
    return value < cfg.below if cfg.below is not None else value > cfg.above
