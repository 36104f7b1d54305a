r"""Learning-rate schedules as multipliers of the base rate α.

A schedule is a pure function of the step index ``t`` (0 for the first optimizer step, or the
epoch index with ``interval: epoch``), computed once for the whole run as a tensor, so the module
engine reads ``factors[t]`` and the cohort engine stacks one row per member:

==================  ==========================================================================
constant            1
inverse_time        1 / (1 + β·t)                                  (β = ``decay``)
exponential         γᵗ
exponential_growth  min(γᵗ, max_lr/α): growth (γ > 1) capped at ``max_lr`` (the cap
                    bounds the whole row, warm-up included)
step                γ^⌊t / step_size⌋
cosine              m + (1 − m)·(1 + cos(π·min(t, P)/P)) / 2        (m = ``min_factor``, P = ``period``)
onecycle            torch's OneCycleLR (cosine, two phases): from 1/div_factor up to 1 at
                    ``pct_start``, then down to 1/(div_factor·final_div_factor)
plateau             1, multiplied by ``factor`` whenever the monitored value has not improved
                    for ``patience`` epochs (torch's ReduceLROnPlateau rule); see :class:`Plateau`
==================  ==========================================================================

``warmup_steps: W`` puts a linear ramp (t + 1)/W in front; the schedule then starts at t = W
as its own step 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from tuneforge.config.schema import PlateauSchedule

Formula = Callable[..., torch.Tensor]


def constant(t: torch.Tensor, total: int) -> torch.Tensor:
    return torch.ones_like(t)


def inverse_time(t: torch.Tensor, total: int, decay: float) -> torch.Tensor:
    return 1.0 / (1.0 + decay * t)


def exponential(t: torch.Tensor, total: int, gamma: float) -> torch.Tensor:
    return torch.as_tensor(gamma, dtype=t.dtype) ** t


def exponential_growth(t: torch.Tensor, total: int, gamma: float) -> torch.Tensor:
    """γᵗ with γ > 1; ``lr_factors`` caps it at ``max_lr / lr``."""
    return torch.as_tensor(gamma, dtype=t.dtype) ** t


def step(t: torch.Tensor, total: int, step_size: int, gamma: float) -> torch.Tensor:
    return torch.as_tensor(gamma, dtype=t.dtype) ** torch.div(t, step_size, rounding_mode="floor")


def cosine(t: torch.Tensor, total: int, min_factor: float, period: int | None) -> torch.Tensor:
    period = period or max(total, 1)
    return min_factor + (1 - min_factor) * (1 + torch.cos(math.pi * t.clamp(max=period) / period)) / 2


def onecycle(
    t: torch.Tensor, total: int, pct_start: float, div_factor: float, final_div_factor: float
) -> torch.Tensor:
    """Mirrors ``torch.optim.lr_scheduler.OneCycleLR`` (cos annealing, two phases)."""
    start, peak = 1.0 / div_factor, 1.0
    end = start / final_div_factor
    up_end = float(pct_start * total) - 1
    down_end = float(total - 1)

    def anneal(a: float, b: float, pct: torch.Tensor) -> torch.Tensor:
        return b + (a - b) / 2 * (torch.cos(math.pi * pct) + 1)

    rising = anneal(start, peak, t / up_end if up_end > 0 else torch.ones_like(t))
    falling = anneal(peak, end, (t - up_end) / (down_end - up_end))
    return torch.where(t <= up_end, rising, falling)


#: name -> (formula, the config fields it takes)
SCHEDULES: dict[str, tuple[Formula, tuple[str, ...]]] = {
    "constant": (constant, ()),
    "inverse_time": (inverse_time, ("decay",)),
    "exponential": (exponential, ("gamma",)),
    "exponential_growth": (exponential_growth, ("gamma",)),
    "step": (step, ("step_size", "gamma")),
    "cosine": (cosine, ("min_factor", "period")),
    "onecycle": (onecycle, ("pct_start", "div_factor", "final_div_factor")),
    "plateau": (constant, ()),  # the plateau multiplier is applied on top, from validation
}


def lr_factors(cfg, total: int, lr: float | None = None) -> torch.Tensor:
    """Multipliers of the base learning rate ``lr`` for ``t = 0 .. total-1`` (float64).

    ``lr`` is needed only by a schedule with a ``max_lr`` cap: no factor exceeds ``max_lr / lr``.
    """
    t = torch.arange(total, dtype=torch.float64)
    formula, fields = SCHEDULES[cfg.name]
    kwargs = {name: getattr(cfg, name) for name in fields}
    warm = cfg.warmup_steps
    main = formula((t - warm).clamp_min(0), max(total - warm, 1), **kwargs)
    factors = main if warm == 0 else torch.where(t < warm, (t + 1) / warm, main)
    cap = getattr(cfg, "max_lr", None)
    if cap is None:
        return factors
    if lr is None:
        raise ValueError(f"lr_factors: schedule {cfg.name!r} caps at max_lr; pass the base lr")
    return factors.clamp(max=cap / lr)


class Plateau:
    """Reduce-on-plateau multiplier, torch's ReduceLROnPlateau rule (``threshold_mode='rel'``).

    Written here rather than used from torch because its state must be per cohort member: with
    ``best`` and the counters as tensors of shape ``[K]`` each member plateaus on its own.
    """

    def __init__(self, cfg: PlateauSchedule, mode: str, members: int | None = None):
        shape = () if members is None else (members,)
        self.cfg, self.mode = cfg, mode
        self.factor = torch.ones(shape, dtype=torch.float64)
        self.best = torch.full(shape, math.inf if mode == "min" else -math.inf, dtype=torch.float64)
        self.bad_epochs = torch.zeros(shape, dtype=torch.int64)

    def update(self, value: torch.Tensor | float) -> torch.Tensor:
        """Feed one epoch's monitored value; returns the multiplier for the next epoch."""
        value = torch.as_tensor(value, dtype=torch.float64)
        if self.mode == "min":
            better = value < self.best * (1 - self.cfg.threshold)
        else:
            better = value > self.best * (1 + self.cfg.threshold)
        self.best = torch.where(better, value, self.best)
        self.bad_epochs = torch.where(better, 0, self.bad_epochs + 1)
        reduce = self.bad_epochs > self.cfg.patience
        reduced = (self.factor * self.cfg.factor).clamp_min(self.cfg.min_factor)
        self.factor = torch.where(reduce, reduced, self.factor)
        self.bad_epochs = torch.where(reduce, 0, self.bad_epochs)
        return self.factor

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"factor": self.factor, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.factor, self.best, self.bad_epochs = state["factor"], state["best"], state["bad_epochs"]
