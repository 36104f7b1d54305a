"""What one optimizer step of the module engine does: clipping, accumulation, the scheduled rate.

Trainers are built from real configs, then data and model are cast to float64 so the engine's
weights can be compared with hand-written float64 updates to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe, accumulation_weights

BASE = ["data.source=diabetes", "model.kind=linear", "data.split.val=0", "train.checkpoint_every=0"]


def float64_trainer(*overrides: str, base=BASE) -> ModuleTrainer:
    cfg = tuneforge.load_config(overrides=[*base, *overrides])
    data = prepare(cfg.data)
    data.x = {part: x.double() for part, x in data.x.items()}
    data.y = {part: y.double() if y.is_floating_point() else y for part, y in data.y.items()}
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed).double()
    return ModuleTrainer(model, data, recipe, seed=cfg.train.seed)


def theta(trainer: ModuleTrainer) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in trainer.model.parameters()])


def mse_gradient(x: np.ndarray, y: np.ndarray):
    def grad(th: np.ndarray) -> np.ndarray:
        residual = x @ th[:-1] + th[-1] - y
        return np.append(2 * x.T @ residual, 2 * residual.sum()) / len(y)

    return grad


def recorded_lrs(trainer: ModuleTrainer) -> list[float]:
    """The learning rate of every optimizer step the trainer will take (filled during fit)."""
    lrs: list[float] = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return lrs


# --------------------------------------------------------------------------------- clipping
def _clipped_descent(grad, th, steps, lr, value=None, norm=None):
    """Gradient descent with torch's clipping rules: clamp each entry to ±value, then scale
    the whole gradient (all parameters together) by norm/(‖g‖ + 1e-6) when that is below 1."""
    active = 0
    for _ in range(steps):
        g = grad(th)
        if value is not None:
            g = np.clip(g, -value, value)
        if norm is not None:
            scale = norm / (np.linalg.norm(g) + 1e-6)
            active += scale < 1
            g = g * min(scale, 1.0)
        th = th - lr * g
    return th, active


@pytest.mark.parametrize("clip", [{"norm": 0.3}, {"value": 0.05}, {"value": 0.2, "norm": 0.15}])
def test_clipping_follows_torch_rules_on_the_whole_gradient(clip):
    steps, lr = 20, 0.3
    keys = [f"train.clip_grad_{k}={v}" for k, v in clip.items()]
    trainer = float64_trainer("train.batch_size=full", f"train.epochs={steps}",
                              f"train.optimizer={{name: sgd, lr: {lr}}}", *keys)  # fmt: skip
    grad = mse_gradient(trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy())
    start = theta(trainer)
    trainer.fit()
    want, active = _clipped_descent(grad, start, steps, lr, **clip)
    np.testing.assert_allclose(theta(trainer), want, rtol=1e-10, atol=1e-12)
    unclipped, _ = _clipped_descent(grad, start, steps, lr)
    assert not np.allclose(want, unclipped)  # clipping changed the trajectory
    if "norm" in clip:
        assert 0 < active  # the norm clip was active on some steps


# ----------------------------------------------------------------------------- accumulation
def test_accumulation_weights_are_rows_over_group_rows():
    assert accumulation_weights(10, 3, 2) == [0.5, 0.5, 0.75, 0.25]  # groups of 6 and 4 rows
    assert accumulation_weights(12, 3, 2) == [0.5] * 4
    assert accumulation_weights(12, None, 4) == [1.0]


@pytest.mark.parametrize("micro,accumulate", [(16, 4), (22, 3)])
def test_accumulating_k_micro_batches_equals_one_batch_of_k_times_the_rows(micro, accumulate):
    # 353 training rows: 16×4 ends with a group of 16+16+1 rows, 22×3 with one of 22+1 rows.
    # Adam + L2 + clipping + a per-step schedule: the penalty counts once per step, clipping
    # sees the accumulated gradient, and the schedule advances per optimizer step.
    recipe = ["train.epochs=3", "train.optimizer={name: adam, lr: 0.05}",
              "train.regularization.l2=0.01", "train.clip_grad_norm=0.5",
              "train.schedule={name: inverse_time, decay: 0.2}"]  # fmt: skip
    accumulated = float64_trainer(*recipe, f"train.batch_size={micro}",
                                  f"train.accumulate={accumulate}")  # fmt: skip
    whole = float64_trainer(*recipe, f"train.batch_size={micro * accumulate}")
    accumulated_lrs, whole_lrs = recorded_lrs(accumulated), recorded_lrs(whole)
    accumulated.fit()
    whole.fit()
    np.testing.assert_allclose(theta(accumulated), theta(whole), rtol=1e-10, atol=1e-12)
    assert accumulated.step == whole.step == 3 * accumulated.recipe.steps_per_epoch
    assert accumulated_lrs == pytest.approx(whole_lrs, rel=1e-12)


# ---------------------------------------------------------------------------- the schedule
def test_step_schedule_sets_each_optimizer_step_to_base_times_its_factor():
    trainer = float64_trainer("train.batch_size=64", "train.accumulate=2", "train.epochs=3",
                              "train.optimizer={name: sgd, lr: 0.1}",
                              "train.schedule={name: exponential, gamma: 0.8, warmup_steps: 3}")  # fmt: skip
    lrs = recorded_lrs(trainer)
    trainer.fit()
    assert trainer.recipe.steps_per_epoch == 3  # 6 batches of ≤64 rows, 2 per step
    assert len(lrs) == trainer.recipe.total_steps == len(trainer.recipe.factors)
    np.testing.assert_allclose(lrs, 0.1 * trainer.recipe.factors.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lrs[:3], [0.1 / 3, 0.2 / 3, 0.1], rtol=1e-12)
    np.testing.assert_allclose(lrs[3:], 0.1 * 0.8 ** np.arange(6), rtol=1e-12)


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_exponential_growth_sets_lr_times_gamma_to_the_t_until_the_cap(interval):
    trainer = float64_trainer("train.batch_size=64", "train.epochs=6", "train.optimizer={name: sgd, lr: 0.01}",
                              "train.schedule={name: exponential_growth, gamma: 1.5, max_lr: 0.04, "
                              f"interval: {interval}}}")  # fmt: skip
    lrs = recorded_lrs(trainer)
    trainer.fit()
    per_epoch = trainer.recipe.steps_per_epoch  # 353 rows in batches of 64: 6 steps
    t = np.arange(6 * per_epoch) if interval == "step" else np.arange(6 * per_epoch) // per_epoch
    np.testing.assert_allclose(lrs, np.minimum(0.01 * 1.5**t, 0.04), rtol=1e-12)
    assert max(lrs) == pytest.approx(0.04) and lrs[0] == pytest.approx(0.01)


def test_epoch_schedule_holds_the_rate_through_each_epoch():
    trainer = float64_trainer("train.batch_size=100", "train.epochs=4",
                              "train.optimizer={name: sgd, lr: 0.1}",
                              "train.schedule={name: step, step_size: 1, gamma: 0.5, interval: epoch}")  # fmt: skip
    lrs = recorded_lrs(trainer)
    trainer.fit()
    batches = -(-trainer.data.size("train") // 100)
    want = [0.1 * 0.5**epoch for epoch in range(4) for _ in range(batches)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    assert [r["lr"] for r in trainer.history] == pytest.approx(want[::batches], rel=1e-12)


def test_plateau_in_the_engine_equals_reduce_lr_on_plateau_fed_the_validation_loss():
    run = tuneforge.train(tuneforge.load_config(overrides=[
        "data.source=iris", "train.epochs=30", "train.checkpoint_every=0",
        "train.optimizer={name: sgd, lr: 0.5, momentum: 0.9}",
        "train.schedule={name: plateau, patience: 1, factor: 0.5}",
    ]))  # fmt: skip
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    reference = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1,
                                               threshold=1e-4)  # fmt: skip
    for record in run.history:
        assert record["lr"] == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        reference.step(record["val/loss"])
    assert run.history[-1]["lr"] < 0.5  # it did reduce
