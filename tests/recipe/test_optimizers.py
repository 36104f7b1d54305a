"""Optimizers and batch sizes against their textbook update rules, written out in numpy.

The engine trains a linear regression on ``diabetes`` in float64 (data and model cast after the
config builds them), so its weights can be compared with the hand-written float64 updates to
1e-10: every torch.optim hyperparameter the config names must reach the optimizer unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from pydantic import TypeAdapter

from float64_runs import float64_trainer
from tuneforge.config.schema import OptimizerConfig
from tuneforge.engine.module import ModuleTrainer
from tuneforge.recipe import OPTIMIZERS, make_optimizer

OPTIMIZER = TypeAdapter(OptimizerConfig)

BASE = ["data.source=diabetes", "model.kind=linear", "data.split.val=0", "train.checkpoint_every=0"]


def theta(trainer: ModuleTrainer) -> np.ndarray:
    """Weights then bias, as one vector."""
    return np.concatenate([p.detach().numpy().ravel() for p in trainer.model.parameters()])


def mse_gradient(x: np.ndarray, y: np.ndarray):
    """∇ of mean((Xw + b − y)²) with respect to θ = (w, b)."""

    def grad(th: np.ndarray) -> np.ndarray:
        residual = x @ th[:-1] + th[-1] - y
        return np.append(2 * x.T @ residual, 2 * residual.sum()) / len(y)

    return grad


# ------------------------------------------------------------------ textbook update rules
def sgd(grad, th, steps, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    velocity = None
    for _ in range(steps):
        g = grad(th) + weight_decay * th
        if momentum:
            velocity = g if velocity is None else momentum * velocity + (1 - dampening) * g
            g = g + momentum * velocity if nesterov else velocity
        th = th - lr * g
    return th


def adam(grad, th, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         decoupled=False):  # fmt: skip
    m = v = v_max = np.zeros_like(th)
    for t in range(1, steps + 1):
        g = grad(th)
        if decoupled:  # AdamW: θ ← θ − α·λ·θ, apart from the gradient
            th = th * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * th
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g**2
        v_max = np.maximum(v_max, v) if amsgrad else v
        m_hat, v_hat = m / (1 - betas[0] ** t), v_max / (1 - betas[1] ** t)
        th = th - lr * m_hat / (np.sqrt(v_hat) + eps)
    return th


def rmsprop(grad, th, steps, lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False,
            weight_decay=0.0):  # fmt: skip
    square = mean = buffer = np.zeros_like(th)
    for _ in range(steps):
        g = grad(th) + weight_decay * th
        square = alpha * square + (1 - alpha) * g**2
        variance = square
        if centered:
            mean = alpha * mean + (1 - alpha) * g
            variance = square - mean**2
        update = g / (np.sqrt(variance) + eps)
        if momentum:
            buffer = momentum * buffer + update
            update = buffer
        th = th - lr * update
    return th


def adagrad(grad, th, steps, lr, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0,
            weight_decay=0.0):  # fmt: skip
    total = np.full_like(th, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = grad(th) + weight_decay * th
        total = total + g**2
        th = th - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return th


#: optimizer config (YAML flow mapping) -> (reference, its keyword arguments)
CASES = {
    "sgd": ("{name: sgd, lr: 0.05}", sgd, {"lr": 0.05}),
    "sgd-momentum-dampening-decay": (
        "{name: sgd, lr: 0.05, momentum: 0.8, dampening: 0.3, weight_decay: 0.1}", sgd,
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
    ),  # fmt: skip
    "sgd-nesterov": ("{name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}", sgd,
                     {"lr": 0.05, "momentum": 0.9, "nesterov": True}),  # fmt: skip
    "adam": ("{name: adam, lr: 0.05, betas: [0.8, 0.95], eps: 1.0e-6}", adam,
             {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6}),  # fmt: skip
    "adam-l2-amsgrad": ("{name: adam, lr: 0.05, weight_decay: 0.1, amsgrad: true}", adam,
                        {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),  # fmt: skip
    "adamw": ("{name: adamw, lr: 0.05, weight_decay: 0.3}", adam,
              {"lr": 0.05, "weight_decay": 0.3, "decoupled": True}),  # fmt: skip
    "adamw-default-decay": ("{name: adamw, lr: 0.05}", adam,
                            {"lr": 0.05, "weight_decay": 0.01, "decoupled": True}),  # fmt: skip
    "rmsprop": ("{name: rmsprop, lr: 0.01, alpha: 0.9}", rmsprop, {"lr": 0.01, "alpha": 0.9}),
    "rmsprop-centered-momentum": (
        "{name: rmsprop, lr: 0.01, centered: true, momentum: 0.5, weight_decay: 0.1}", rmsprop,
        {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
    ),  # fmt: skip
    "adagrad": ("{name: adagrad, lr: 0.3, lr_decay: 0.05, initial_accumulator_value: 0.1}",
                adagrad, {"lr": 0.3, "lr_decay": 0.05, "initial_accumulator_value": 0.1}),  # fmt: skip
}


def test_every_registered_optimizer_has_a_reference():
    assert {yaml.safe_load(spec)["name"] for spec, _, _ in CASES.values()} == set(OPTIMIZERS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_full_batch_training_follows_the_textbook_update(case):
    spec, reference, kwargs = CASES[case]
    steps = 25
    trainer = float64_trainer(BASE, "train.batch_size=full", f"train.epochs={steps}", f"train.optimizer={spec}")
    start = theta(trainer)
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    trainer.fit()
    want = reference(mse_gradient(x, y), start, steps, **kwargs)
    assert not np.allclose(want, start)
    np.testing.assert_allclose(theta(trainer), want, rtol=1e-10, atol=1e-12)


def test_full_batch_is_gradient_descent_with_the_scheduled_rate():
    # θₜ₊₁ = θₜ − αₜ ∇J(θₜ) over all training rows, αₜ = α / (1 + β·t)
    lr, decay, steps = 0.2, 0.1, 30
    trainer = float64_trainer(BASE, "train.batch_size=full", f"train.epochs={steps}",
                              f"train.optimizer={{name: sgd, lr: {lr}}}",
                              f"train.schedule={{name: inverse_time, decay: {decay}}}")  # fmt: skip
    th = theta(trainer)
    grad = mse_gradient(trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy())
    trainer.fit()
    for t in range(steps):
        th = th - lr / (1 + decay * t) * grad(th)
    np.testing.assert_allclose(theta(trainer), th, rtol=1e-10, atol=1e-12)
    assert trainer.step == steps


@pytest.mark.parametrize("batch_size", [1, 50])
def test_mini_batches_are_seeded_shuffles_stepping_on_each_slice(batch_size):
    # Each epoch visits the rows in the order torch.randperm draws from a generator seeded with
    # train.seed; batch_size 1 is stochastic gradient descent, 50 leaves a last batch of 14 rows.
    lr, epochs, seed = 0.01, 2, 7
    trainer = float64_trainer(BASE, f"train.batch_size={batch_size}", f"train.epochs={epochs}",
                              f"train.seed={seed}", f"train.optimizer={{name: sgd, lr: {lr}}}")  # fmt: skip
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    th = theta(trainer)
    trainer.fit()
    generator = torch.Generator().manual_seed(seed)
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator).numpy()
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            th = th - lr * mse_gradient(x[rows], y[rows])(th)
            steps += 1
    np.testing.assert_allclose(theta(trainer), th, rtol=1e-10, atol=1e-12)
    assert trainer.step == steps == epochs * -(-len(y) // batch_size)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_fused_kernel_is_used_where_torch_has_one(name):
    # fused: one kernel per parameter instead of a loop of elementwise ops (the textbook tests
    # above hold for it); RMSprop has none in torch, so it keeps the loop.
    cfg = OPTIMIZER.validate_python({"name": name})
    params = [torch.nn.Parameter(torch.randn(3, 2))]
    assert bool(make_optimizer(cfg, params).defaults.get("fused")) is (name != "rmsprop")


def test_parameters_the_fused_kernel_refuses_fall_back_to_the_loop():
    # complex parameters are not floating point: torch's fused Adam refuses them at the first step
    cfg = OPTIMIZER.validate_python({"name": "adam", "lr": 0.1})
    weight = torch.nn.Parameter(torch.ones(2, dtype=torch.complex64))
    optimizer = make_optimizer(cfg, iter([weight]))  # an iterator, as model.parameters() is
    assert not optimizer.defaults.get("fused")
    (weight.abs() ** 2).sum().backward()
    optimizer.step()
    assert weight.abs().max() < 1  # it trained: |w|² shrinks towards 0
