"""The module engine: one ``nn.Module`` trained with torch.optim.

The loop reads top to bottom: forward, loss, penalty, backward, clip, step, proximal step,
schedule. Per-step work is only what the recipe asks for; the loss is kept on the device and
checked for NaN/Inf once per epoch, so a step never waits on a host sync.

Under ``torchrun`` (a :class:`World` of several ranks) the same loop runs on every rank: each
takes its rows of every global batch (:meth:`World.shard`), DDP all-reduces the gradients in
``backward``, and clipping and the step see the global gradient, so the weights follow one
process training on the global batch. With ``train.distributed.sync: local_sgd`` the ranks
step on their own gradients and average their weights every ``period`` steps
(:mod:`tuneforge.engine.local_sgd`). See docs/scaling.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from tuneforge.data import Batches, Dataset
from tuneforge.data.augment import Augmenter
from tuneforge.engine import checkpoint, distributed
from tuneforge.engine.callbacks import THRESHOLD_REACHED, EarlyStopping, threshold_reached
from tuneforge.engine.distributed import World
from tuneforge.evaluate.metrics import epoch_metrics, mode
from tuneforge.recipe import (
    Plateau,
    Recipe,
    accumulation_weights,
    make_optimizer,
    objective_weights,
    penalized_parameters,
    penalty,
    soft_threshold_,
)

#: Called after every epoch with its record; returning a string stops training with that status.
EpochCallback = Callable[[dict], "str | None"]


class StepProbe(Protocol):
    """Looks at the model around the optimizer step every ``every`` steps (gradient health).

    ``before_step`` sees the gradients before clipping; ``after_step`` sees the updated weights.
    With no probe the loop pays one ``is None`` test per step.
    """

    every: int

    def before_step(self, step: int) -> None: ...

    def after_step(self, step: int) -> None: ...


@dataclass
class FitResult:
    status: str  # completed | early_stopped | threshold_reached | diverged | <a callback's status>
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    divergence: dict | None = None
    best_epoch: int | None = None


@torch.no_grad()
def predict_tensor(model: nn.Module, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Model outputs for ``x`` in eval mode, ``chunk`` rows at a time."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, data: Dataset, part: str, recipe: Recipe) -> dict[str, float]:
    """``{part}/loss`` and the per-epoch metrics of ``part`` (plain floats)."""
    if data.size(part) == 0:
        return {}
    pred = predict_tensor(model, data.x[part])
    y = data.y[part]
    scores = {"loss": recipe.loss(pred, y).mean()}
    scores |= epoch_metrics(pred, y, recipe.task, recipe.n_classes,
                            recipe.target_mean, recipe.target_std, recipe.targets)  # fmt: skip
    return {f"{part}/{k}": float(v) for k, v in scores.items()}


class ModuleTrainer:
    """Trains ``model`` on ``data`` with ``recipe``; resumable from its checkpoint folder.

    ``world`` is this process's place in a torchrun job (a world of one by default): the loop
    runs ``self.net`` (the DDP wrapper, or the model itself), everything else reads ``self.model``.
    """

    def __init__(self, model: nn.Module, data: Dataset, recipe: Recipe, seed: int = 0,
                 probe: StepProbe | None = None, world: World = World()):  # fmt: skip
        cfg = recipe.cfg
        self.model, self.data, self.recipe, self.cfg = model, data, recipe, cfg
        self.probe, self.world = probe, world
        self.net = distributed.wrap(model, world, data.x["train"].device)
        # Pretrained models give per-block groups (own learning rates, models/finetune.py).
        groups = getattr(model, "param_groups", None)
        params = groups(cfg.optimizer.lr) if callable(groups) else model.parameters()
        self.optimizer = make_optimizer(cfg.optimizer, params)
        self.trained = [p for group in self.optimizer.param_groups for p in group["params"]]
        # train.distributed.sync local_sgd: own steps per rank, weights averaged every period
        self.local_sgd = None
        if cfg.distributed.sync == "local_sgd":  # torch.distributed.optim costs ~0.5 s: on use only
            from tuneforge.engine.local_sgd import LocalSGD

            self.local_sgd = LocalSGD.build(self.net, model, self.optimizer, cfg.distributed)
        if self.local_sgd is not None:
            self.optimizer = self.local_sgd.optimizer
        self.evaluated = model  # under local SGD: the ranks' average, refreshed every epoch
        self.batches = Batches(data.x["train"], data.y["train"], recipe.batch_size, seed, cfg.shuffle)
        self.augment = Augmenter.build(cfg.augment, data.x["train"], seed)  # None: off
        reg = cfg.regularization
        self.penalized = penalized_parameters(model, reg.include_bias)
        self.l1 = reg.l1 if reg.l1_mode == "penalty" else 0.0
        self.prox_l1 = reg.l1 if reg.l1_mode == "proximal" else 0.0
        self.has_penalty = bool(self.l1 or reg.l2)
        n_train = data.size("train")
        # the penalty counts once per step: each micro-batch's share is its rows over its group's
        self.micro_weights = accumulation_weights(n_train, recipe.batch_size, cfg.accumulate)
        # the data loss in the form a step minimizes (train.loss_reduction, train.loss_scale)
        self.loss_weights = objective_weights(n_train, recipe.batch_size, cfg.accumulate,
                                              cfg.loss_reduction, cfg.loss_scale)  # fmt: skip
        self.weighted = cfg.accumulate > 1 or cfg.loss_reduction != "mean" or cfg.loss_scale != 1
        self.factors = recipe.factors.tolist()
        self.scheduled = cfg.schedule.name not in ("constant", "plateau") or cfg.schedule.warmup_steps
        self.plateau = None
        if cfg.schedule.name == "plateau":
            self.plateau = Plateau(cfg.schedule, cfg.schedule.mode or mode(cfg.schedule.monitor))
        self.stopper = EarlyStopping(cfg.early_stopping) if cfg.early_stopping else None
        self.epoch, self.step, self.history = 0, 0, []
        self.bf16 = cfg.precision == "bf16"
        self.device_type = data.x["train"].device.type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's outputs; with ``train.precision: bf16`` under autocast (the weights and
        optimizer state stay fp32), returned as fp32 so the loss is computed in full precision."""
        if not self.bf16:
            return self.net(x)
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.net(x).float()

    # ------------------------------------------------------------------------------ the loop
    def fit(self, callbacks: Sequence[EpochCallback] = (), checkpoint_dir: Path | None = None):
        result = FitResult("completed", self.history)
        if self.history and threshold_reached(self.cfg.stop_at, self.history[-1]):
            result.status = THRESHOLD_REACHED  # resumed after the epoch that crossed it
        while self.epoch < self.recipe.epochs and result.status == "completed":
            started = time.perf_counter()
            train_loss = self.train_epoch()
            record = self.end_epoch(train_loss, time.perf_counter() - started)
            if record.get("diverged"):
                result.status, result.divergence = "diverged", record.pop("diverged")
            for callback in callbacks:
                status = callback(record)
                if status and result.status == "completed":
                    result.status = status
            if result.status == "completed" and threshold_reached(self.cfg.stop_at, record):
                result.status = THRESHOLD_REACHED
            if self.stopper and self.stopper.update(record.get(self.stopper.cfg.monitor, math.nan),
                                                    self.epoch, self.evaluated):  # fmt: skip
                result.status = result.status if result.status != "completed" else "early_stopped"
            if checkpoint_dir is not None and result.status != "diverged" and self._due():
                self.save(checkpoint_dir)
            if result.status != "completed":
                break
        if self.local_sgd is not None:  # the trained model is the ranks' average
            self.local_sgd.finish(self.model)
        if self.stopper is not None:
            self.stopper.restore(self.model)
            result.best_epoch = self.stopper.best_epoch or None
        result.steps = self.step
        return result

    def train_epoch(self) -> torch.Tensor:
        """One pass over the training batches; returns the per-batch data losses."""
        cfg, model, optimizer = self.cfg, self.model, self.optimizer
        model.train()
        losses = []  # stays on the device; stacked once per epoch (no host sync per step)
        if hasattr(model, "set_epoch"):  # freezing that changes with the epoch (fine-tuning)
            model.set_epoch(self.epoch)
        if cfg.schedule.interval == "epoch":
            self._set_lr(self.factors[self.epoch])
        for i, (x, y) in enumerate(self.batches):
            if self.scheduled and cfg.schedule.interval == "step":
                self._set_lr(self.factors[self.step])
            stepping = (i + 1) % cfg.accumulate == 0 or i + 1 == len(self.batches)
            with self._gradient_sync(stepping):
                loss = self.batch_loss(x, y)  # the batch's mean data loss (what train/loss reports)
                objective = loss * self.loss_weights[i] if self.weighted else loss
                if self.has_penalty:
                    term = penalty(self.penalized, self.l1, cfg.regularization.l2)
                    objective = objective + (term * self.micro_weights[i] if cfg.accumulate > 1 else term)
                objective.backward()
            losses.append(loss.detach())
            if not stepping:
                continue  # accumulate gradients over more micro-batches
            probing = self.probe is not None and self.step % self.probe.every == 0
            if probing:
                self.probe.before_step(self.step)
            if cfg.clip_grad_value is not None:
                nn.utils.clip_grad_value_(model.parameters(), cfg.clip_grad_value)
            if cfg.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            optimizer.step()
            if self.prox_l1:
                soft_threshold_(self.penalized, self.optimizer.param_groups[0]["lr"] * self.prox_l1)
            if probing:
                self.probe.after_step(self.step)
            # What optimizer.zero_grad(set_to_none=True) does, without its per-call wrappers
            # (torch._dynamo's disable and a profiler range): ~8% of a small model's step.
            for param in self.trained:
                param.grad = None
            self.step += 1
            if self.step == self.recipe.total_steps:
                break  # train.max_steps ends this epoch here
        # Under DDP a rank's loss is its share of the batch mean; the mean over ranks is the
        # batch mean, and every rank then takes the same divergence decision.
        return distributed.mean_over_ranks(torch.stack(losses), self.world)

    def batch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The data loss of one global batch: its mean, or under DDP this rank's share of it.

        A rank's share is its summed loss times ``world / rows``: DDP averages gradients over
        ranks, which then gives the gradient of the global batch's mean loss.
        """
        if not self.world.distributed:
            if self.augment is None:
                return self.recipe.mean_loss(self.forward(x), y)
            # training batches only: evaluation never sees augmented rows
            return self.augment.mean_loss(self.forward, x, y, self.recipe.mean_loss)
        rows, scale = self.world.shard(len(x)), self.world.size / len(x)

        def share(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return self.recipe.loss(pred, target, reduction="sum") * scale

        if self.augment is None:
            return share(self.forward(x[rows]), y[rows])
        # Augmented on the whole global batch (same draws on every rank), then sharded.
        return self.augment.mean_loss(self.forward, x, y, share, rows)

    def _gradient_sync(self, stepping: bool):
        """DDP all-reduces gradients in ``backward``; micro-batches before a step skip that."""
        if stepping or not self.world.distributed:
            return nullcontext()
        return self.net.no_sync()

    def end_epoch(self, losses: torch.Tensor, seconds: float) -> dict:
        self.epoch += 1
        if self.local_sgd is not None:  # every rank: a collective, before any decision
            self.evaluated = self.local_sgd.refresh(self.model)
        record = {"epoch": self.epoch, "step": self.step,
                  "lr": self.optimizer.param_groups[0]["lr"]}  # fmt: skip
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            record["diverged"] = self._divergence(losses, finite)
            record["train/loss"] = math.nan
            self.history.append(record)
            return record
        record["train/loss"] = float(losses.mean())
        record |= evaluate(self.evaluated, self.data, "val", self.recipe)
        if self.plateau is not None:
            value = record.get(self.plateau.cfg.monitor, math.nan)
            self._plateau_factor = float(self.plateau.update(value))
        record["seconds"] = round(seconds, 4)
        self.history.append(record)
        return record

    # ------------------------------------------------------------------------------ helpers
    _plateau_factor = 1.0

    def _set_lr(self, factor: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor * self._plateau_factor

    def _divergence(self, losses: torch.Tensor, finite: torch.Tensor) -> dict:
        first_bad = int((~finite).nonzero()[0])
        good = losses[:first_bad]
        steps_before = self.step - -(-len(losses) // self.cfg.accumulate)
        return {
            "epoch": self.epoch,
            "step": steps_before + first_bad // self.cfg.accumulate + 1,
            "last_finite_loss": float(good[-1]) if len(good) else None,
            "lr": self.optimizer.param_groups[0]["lr"],
        }

    def _due(self) -> bool:
        every = self.cfg.checkpoint_every
        return every > 0 and (self.epoch % every == 0 or self.epoch == self.recipe.epochs)

    # --------------------------------------------------------------------------- checkpoints
    def save(self, folder: Path) -> None:
        """Write a checkpoint; under DDP every rank calls this (the RNG gather) and rank 0 writes."""
        device = self.data.x["train"].device
        tensors = checkpoint.rng_state(self.batches.generator)
        tensors |= distributed.gather_rng(self.world, device)
        if self.local_sgd is not None:  # the ranks' weights differ between averages
            tensors |= self.local_sgd.gather(self.model, self.world.rank, self.world.size)
        if not self.world.is_main:
            return
        if self.augment is not None:
            tensors |= self.augment.state()
        state = {"epoch": self.epoch, "step": self.step, "history": self.history,
                 "plateau_factor": self._plateau_factor}  # fmt: skip
        if self.plateau is not None:
            tensors |= {f"plateau.{k}": v for k, v in self.plateau.state_dict().items()}
        if self.stopper is not None:
            scalars, best = self.stopper.state()
            state["early_stopping"] = scalars
            tensors |= best
        checkpoint.save(folder, self.model, self.optimizer, tensors, state)

    def load(self, folder: Path) -> None:
        device = self.data.x["train"].device
        tensors, state = checkpoint.load(folder, self.model, self.optimizer, device)
        checkpoint.restore_rng(tensors, self.batches.generator)
        distributed.restore_rng(tensors, self.world, device)
        if self.local_sgd is not None:
            self.local_sgd.restore(tensors, self.model, self.world.rank)
        if self.augment is not None:
            self.augment.load_state(tensors)
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self._plateau_factor = state["plateau_factor"]
        if self.plateau is not None:
            self.plateau.load_state_dict({k.removeprefix("plateau."): v for k, v in tensors.items()
                                          if k.startswith("plateau.")})  # fmt: skip
        if self.stopper is not None:
            self.stopper.load(state["early_stopping"], tensors)
