r"""The exponential-growth learning-rate range test (Smith 2017; ``tuneforge lr-find``).

For ``k = 0 .. N-1`` the learning rate is αₖ = α_min·(α_max/α_min)^(k/N); one optimizer step is
taken on the next mini-batch at each αₖ and its loss recorded. The loss is smoothed with a
bias-corrected exponential moving average, sₖ = EMA(lossₖ) / (1 − βᵏ⁺¹). The test stops when the
loss explodes (sₖ > ``diverge`` × the best sₖ so far) or becomes NaN/Inf. Then the model, the
optimizer and the random-number generators are restored to what they were before.

Ours rather than a library's: it must train with our recipe (loss, penalty, clipping, batches).
It avoids the known ways finders get fooled (Lightning#1767, fastai#3476): the first
``skip_start`` points are not candidates, non-finite points are never candidates, and the
suggestion reads the smoothed curve. Suggestion rules (:data:`RULES`):

* ``steepest`` (default): the LR where the smoothed loss falls fastest per unit of log(LR),
  i.e. the minimum of its gradient with respect to log10(α).
* ``valley``: fastai's rule: the longest run over which the smoothed loss keeps decreasing
  (longest decreasing subsequence); the point a little past its middle.
* ``minimum``: one tenth of the LR at the lowest smoothed loss (Smith's rule of thumb).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from tuneforge.data import Batches, Dataset
from tuneforge.errors import ConfigError
from tuneforge.recipe import Recipe, make_optimizer, penalized_parameters, penalty


@dataclass
class LRCurve:
    """What the range test saw, and the suggestion; ``asdict`` makes ``lr_find.json``."""

    lrs: list[float]
    losses: list[float]  # raw per-step loss (NaN where it was not finite)
    smoothed: list[float]
    rule: str
    suggestion: float | None
    index: int | None  # position of the suggestion in lrs
    stopped: str  # "completed" | "exploded" | "non-finite"
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------- the rules
def steepest(lrs: np.ndarray, smoothed: np.ndarray) -> int:
    slope = np.gradient(smoothed, np.log10(lrs))
    return int(np.nanargmin(slope))


def valley(lrs: np.ndarray, smoothed: np.ndarray) -> int:
    """After fastai's ``valley``: longest decreasing subsequence, index past its middle."""
    n = len(smoothed)
    length = [1] * n
    start, end = 0, 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end, start = i, i - length[i] + 1
    third = (end - start) / 3
    return min(start + int(third) + int(third / 2), n - 1)


def minimum(lrs: np.ndarray, smoothed: np.ndarray) -> int:
    """Index of the LR closest to a tenth of the LR at the lowest smoothed loss."""
    target = lrs[int(np.nanargmin(smoothed))] / 10
    return int(np.argmin(np.abs(np.log(lrs) - np.log(target))))


RULES: dict[str, Callable[[np.ndarray, np.ndarray], int]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
}


def suggest(lrs: list[float], smoothed: list[float], rule: str, skip_start: int,
            skip_end: int) -> int | None:  # fmt: skip
    """Index of the suggested LR among the finite points after ``skip_start`` (None: too few)."""
    _check_rule(rule)
    finite = [i for i in range(len(smoothed) - skip_end) if math.isfinite(smoothed[i])]
    if not finite:
        return None
    lowest = min(finite, key=lambda i: smoothed[i])  # past it the loss only blows up
    candidates = [i for i in finite if skip_start <= i <= lowest]
    if len(candidates) < 3:
        return None
    picked = RULES[rule](np.asarray(lrs)[candidates], np.asarray(smoothed)[candidates])
    return candidates[picked]


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ConfigError(f"lr-find --rule: unknown {rule!r}; expected one of {sorted(RULES)}")


# ---------------------------------------------------------------------------- the sweep
def lr_schedule(min_lr: float, max_lr: float, steps: int) -> list[float]:
    """αₖ = α_min·(α_max/α_min)^(k/N) for k = 0 .. N-1 (SPEC §7)."""
    return [min_lr * (max_lr / min_lr) ** (k / steps) for k in range(steps)]


def range_test(model: nn.Module, data: Dataset, recipe: Recipe, *,
               optimizer: torch.optim.Optimizer | None = None, min_lr: float = 1e-7,
               max_lr: float = 10.0, steps: int = 100, rule: str = "steepest", beta: float = 0.95,
               diverge: float = 4.0, skip_start: int = 10, skip_end: int = 5,
               seed: int = 0) -> LRCurve:  # fmt: skip
    """Sweep the LR on ``model`` with ``recipe``; leaves model, optimizer and RNGs as they were.

    Example:
        >>> curve = range_test(model, data, recipe, min_lr=1e-5, max_lr=1.0, steps=60)
        >>> curve.suggestion  # doctest: +SKIP
        0.0123
    """
    _check_rule(rule)  # before the sweep, not after it
    if not 0 < min_lr < max_lr:
        raise ConfigError(f"lr-find: expected 0 < min_lr < max_lr, got {min_lr} and {max_lr}")
    if steps < skip_start + skip_end + 3:
        raise ConfigError(f"lr-find --steps: {steps} is too few; use at least {skip_start + skip_end + 3}")
    optimizer = optimizer or make_optimizer(recipe.cfg.optimizer, model.parameters())
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    with torch.random.fork_rng(devices=_cuda_devices(model)):
        try:
            lrs, losses, smoothed, stopped = _sweep(model, data, recipe, optimizer,
                                                    lr_schedule(min_lr, max_lr, steps),
                                                    beta, diverge, seed)  # fmt: skip
        finally:
            model.load_state_dict(saved_model)
            optimizer.load_state_dict(saved_optimizer)
            optimizer.zero_grad(set_to_none=True)
            model.train(was_training)
    index = suggest(lrs, smoothed, rule, skip_start, skip_end)
    settings = {"min_lr": min_lr, "max_lr": max_lr, "steps": steps, "beta": beta,
                "diverge": diverge, "skip_start": skip_start, "skip_end": skip_end}  # fmt: skip
    return LRCurve(lrs, losses, smoothed, rule, None if index is None else lrs[index], index,
                   stopped, settings)  # fmt: skip


def _sweep(model, data, recipe, optimizer, schedule, beta, diverge, seed):
    cfg = recipe.cfg
    batches = Batches(data.x["train"], data.y["train"], recipe.batch_size, seed, cfg.shuffle)
    params = penalized_parameters(model, cfg.regularization.include_bias)
    l1, l2 = cfg.regularization.l1, cfg.regularization.l2
    base = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
    stream = _endless(batches)
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    model.train()
    for k, lr in enumerate(schedule):
        for group in optimizer.param_groups:  # keep per-group LR ratios (pretrained models)
            group["lr"] = lr * group.get("initial_lr", base) / base
        x, y = next(stream)
        optimizer.zero_grad(set_to_none=True)
        loss = recipe.loss(model(x), y).mean()
        objective = loss * recipe.form_factor(len(x))  # the loss form training steps on
        objective = objective + penalty(params, l1, l2) if (l1 or l2) else objective
        objective.backward()
        if cfg.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
        value = float(loss.detach())
        lrs.append(lr)
        if not math.isfinite(value):
            losses.append(math.nan)
            smoothed.append(math.nan)
            return lrs, losses, smoothed, "non-finite"
        optimizer.step()
        average = beta * average + (1 - beta) * value
        current = average / (1 - beta ** (k + 1))
        losses.append(value)
        smoothed.append(current)
        best = min(best, current)
        if k > 0 and current > diverge * best:
            return lrs, losses, smoothed, "exploded"
    return lrs, losses, smoothed, "completed"


def _endless(batches: Batches):
    while True:
        yield from batches


def _cuda_devices(model: nn.Module) -> list[int]:
    return sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})


def lr_find(cfg, **options) -> LRCurve:
    """Build ``cfg``'s data, model and recipe, as ``tuneforge train`` would, and run the test."""
    from tuneforge.data import prepare
    from tuneforge.engine.setup import resolve_device, seed_everything
    from tuneforge.models import build_model, check_model

    seed_everything(cfg.train.seed, cfg.train.deterministic)
    device = resolve_device(cfg.train.device)
    data = prepare(cfg.data, device)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed).to(device)
    check_model(cfg.model, model, data.x["train"], recipe.n_outputs)
    return range_test(model, data, recipe, seed=cfg.train.seed, **options)
