"""One cohort member's life: its epoch records, callbacks, plateau, early stopping and result.

Everything here runs once per member per epoch, on plain floats, with the module engine's own
pieces (``EarlyStopping``, ``Plateau``, ``FitResult``) and its order of events, so a member's
history and status are what ``ModuleTrainer.fit`` would write for the same numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from tuneforge.config import Config
from tuneforge.engine.callbacks import THRESHOLD_REACHED, EarlyStopping, threshold_reached
from tuneforge.engine.module import EpochCallback, FitResult
from tuneforge.evaluate.metrics import mode
from tuneforge.recipe import Plateau, Recipe


class MemberView:
    """Row k of a cohort seen as a model by :class:`EarlyStopping` (state_dict / load_state_dict)."""

    def __init__(self, net, k: int):
        self.net, self.k = net, k

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.net.padded_state(self.k)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_padded_state(self.k, state)


@dataclass
class Member:
    """A member's recipe, its callbacks and what has happened to it so far."""

    index: int  # position in the list the caller passed
    cfg: Config
    recipe: Recipe
    callbacks: Sequence[EpochCallback] = ()
    history: list[dict] = field(default_factory=list)
    result: FitResult = field(init=False)
    stopper: EarlyStopping | None = field(init=False)
    plateau: Plateau | None = field(init=False)
    plateau_factor: float = 1.0
    epochs_done: int = 0  # the member's own count: members may join a running cohort
    steps_done: int = 0  # optimizer steps
    started: float = field(default_factory=time.perf_counter)  # when it joined (wall_time_s)

    def __post_init__(self) -> None:
        train = self.cfg.train
        self.result = FitResult("completed", self.history)
        self.stopper = EarlyStopping(train.early_stopping) if train.early_stopping else None
        self.plateau = None
        if train.schedule.name == "plateau":
            self.plateau = Plateau(
                train.schedule, train.schedule.mode or mode(train.schedule.monitor)
            )

    def record_epoch(self, record: dict, losses: torch.Tensor | None, scores: dict[str, float]) -> dict:
        """Complete this epoch's record (as ``ModuleTrainer.end_epoch``) and keep it.

        ``losses`` are the member's loss per batch of its own this epoch, needed (and given)
        only when ``train/loss`` is not finite."""
        if not math.isfinite(record["train/loss"]):
            record["diverged"] = self._divergence(record, losses)
            record["train/loss"] = math.nan
            self.history.append(record)
            return record
        record |= scores
        if self.plateau is not None:
            value = record.get(self.plateau.cfg.monitor, math.nan)
            self.plateau_factor = float(self.plateau.update(value))
        self.history.append(record)
        return record

    def after_epoch(self, record: dict, view: MemberView) -> bool:
        """Divergence, callbacks, stop_at, early stopping (as ``ModuleTrainer.fit``); True: leave now."""
        result = self.result
        if record.get("diverged"):
            result.status, result.divergence = "diverged", record.pop("diverged")
        for callback in self.callbacks:
            status = callback(record)
            if status and result.status == "completed":
                result.status = status
        if result.status == "completed" and threshold_reached(self.cfg.train.stop_at, record):
            result.status = THRESHOLD_REACHED
        if self.stopper and self.stopper.update(record.get(self.stopper.cfg.monitor, math.nan),
                                                record["epoch"], view):  # fmt: skip
            result.status = result.status if result.status != "completed" else "early_stopped"
        return result.status != "completed" or record["epoch"] >= self.recipe.epochs

    def finish(self, view: MemberView, steps: int) -> FitResult:
        """Restore the best epoch's weights (early stopping) into the member's row."""
        if self.stopper is not None:
            self.stopper.restore(view)
            self.result.best_epoch = self.stopper.best_epoch or None
        self.result.steps = steps
        return self.result

    def _divergence(self, record: dict, losses: torch.Tensor) -> dict:
        """Where the loss first became NaN/Inf in this epoch (``ModuleTrainer._divergence``)."""
        accumulate = self.cfg.train.accumulate
        finite = torch.isfinite(losses)
        first_bad = int((~finite).nonzero()[0])
        good = losses[:first_bad]
        steps_before = record["step"] - -(-len(losses) // accumulate)
        return {
            "epoch": record["epoch"],
            "step": steps_before + first_bad // accumulate + 1,
            "last_finite_loss": float(good[-1]) if len(good) else None,
            "lr": record["lr"],
        }
