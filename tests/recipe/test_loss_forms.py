"""Loss forms (``train.loss_reduction``, ``train.loss_scale``): ½·MSE and the summed loss, exactly.

One step is checked against a NumPy gradient step and against torch.optim.SGD on torch's own
``reduction="sum"`` loss; each form's optimum against scikit-learn with the λ mapping
docs/recipes.md states for that form (n = training rows).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import Lasso, Ridge

import tuneforge
from float64_runs import flat, float64_trainer, relative, trained
from tuneforge.models import build_model
from tuneforge.recipe import accumulation_weights, objective_weights

LINEAR = ["data.source=diabetes", "data.standardize_target=false", "model.kind=linear", "data.split.val=0",
          "train.checkpoint_every=0", "logging.report=false"]  # fmt: skip
FULL_BATCH = [*LINEAR, "train.batch_size=full"]


@pytest.mark.parametrize(("reduction", "scale", "factor"), [
    ("mean", 0.5, lambda n: 1 / n),  # ½·MSE: ∇ = (1/n) Xᵀr
    ("sum", 1.0, lambda n: 2.0),  # SSE: ∇ = 2 Xᵀr
    ("sum", 0.5, lambda n: 1.0),  # ½·SSE: ∇ = Xᵀr
])  # fmt: skip
def test_one_full_batch_step_follows_the_forms_gradient(reduction, scale, factor):
    lr = 1e-4
    trainer = float64_trainer(LINEAR, "train.batch_size=full", "train.epochs=1", f"train.loss_reduction={reduction}",
                              f"train.loss_scale={scale}", f"train.optimizer={{name: sgd, lr: {lr}}}")  # fmt: skip
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    before = flat(trainer.model)
    w, b = before[:-1], before[-1]
    residual = x @ w + b - y
    gradient = factor(len(y)) * np.append(x.T @ residual, residual.sum())
    trainer.fit()
    np.testing.assert_allclose(flat(trainer.model), before - lr * gradient, rtol=1e-12)
    # train/loss stays the per-row mean of the loss, whatever the form
    assert trainer.history[0]["train/loss"] == pytest.approx(np.mean(residual**2), rel=1e-12)


def test_summed_mini_batches_with_accumulation_equal_torch_sgd_on_reduction_sum():
    # 353 rows in micro-batches of 16, 3 per step: 8 steps an epoch, the last over 16 + 16 + 1 rows
    lr, scale = 2e-5, 0.5
    trainer = float64_trainer(LINEAR, "train.batch_size=16", "train.accumulate=3", "train.epochs=2",
                              "train.loss_reduction=sum", f"train.loss_scale={scale}",
                              "train.regularization.l2=0.3", f"train.optimizer={{name: sgd, lr: {lr}, momentum: 0.9}}")  # fmt: skip
    reference = build_model(tuneforge.load_config(overrides=LINEAR).model, 10, 1, seed=0).double()
    reference.load_state_dict(trainer.model.state_dict())
    optimizer = torch.optim.SGD(reference.parameters(), lr=lr, momentum=0.9)
    x, y = trainer.data.x["train"], trainer.data.y["train"]
    generator = torch.Generator().manual_seed(0)  # the engine's batch order (train.seed 0)
    for _ in range(2):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 48):
            rows = order[start : start + 48]
            loss = scale * F.mse_loss(reference(x[rows])[:, 0], y[rows], reduction="sum")
            (loss + 0.3 * reference.weight.square().sum()).backward()
            optimizer.step()
            optimizer.zero_grad()
    trainer.fit()
    assert trainer.step == 16
    np.testing.assert_allclose(flat(trainer.model), flat(reference), rtol=1e-10)


def test_objective_weights_are_scaled_rows_for_the_sum_and_scaled_shares_for_the_mean():
    assert objective_weights(10, 4, 2, "sum", 0.5) == [2.0, 2.0, 1.0]
    assert objective_weights(10, 4, 2, "mean", 0.5) == [0.5 * w for w in accumulation_weights(10, 4, 2)]
    assert objective_weights(10, None, 1, "sum", 2.0) == [20.0]


N_TRAIN = 353  # diabetes: 442 rows, 20% test, no validation


# Each form's problem is the mean form's (lr 0.42, λ₂ = 0.01: Ridge(alpha = n·0.01)) times a
# constant, with the rate divided by it, so the runs take the same path; the mapping under test
# is each form's own alpha.
@pytest.mark.parametrize(("form", "lr", "l2", "alpha"), [
    (["train.loss_scale=0.5"], 0.84, 0.005, lambda n: 2 * n * 0.005),  # ½·MSE: alpha = 2n·λ₂
    (["train.loss_reduction=sum"], 0.42 / N_TRAIN, N_TRAIN * 0.01, lambda n: N_TRAIN * 0.01),  # SSE: alpha = λ₂
])  # fmt: skip
def test_l2_under_each_form_equals_ridge_with_its_alpha(form, lr, l2, alpha):
    run, x, y = trained(FULL_BATCH, *form, "train.epochs=400", f"train.optimizer={{name: sgd, lr: {lr}, momentum: 0.76}}",
                      f"train.regularization.l2={l2}")  # fmt: skip
    assert len(y) == N_TRAIN
    ridge = Ridge(alpha=alpha(len(y))).fit(x, y)
    assert relative(run.model.weight.detach().double().numpy()[0], ridge.coef_) < 1e-4


@pytest.mark.parametrize(("form", "lr", "l1", "alpha"), [
    (["train.loss_scale=0.5"], 0.24, 1.0, 1.0),  # ½·MSE + λ₁|w|: Lasso's own objective, alpha = λ₁
    (["train.loss_reduction=sum"], 0.12 / N_TRAIN, 2.0 * N_TRAIN, 1.0),  # SSE: alpha = λ₁/(2n)
])  # fmt: skip
def test_proximal_l1_under_each_form_equals_lasso_with_its_alpha(form, lr, l1, alpha):
    run, x, y = trained(FULL_BATCH, *form, "train.epochs=600", f"train.optimizer={{name: sgd, lr: {lr}}}",
                      f"train.regularization.l1={l1}", "train.regularization.l1_mode=proximal")  # fmt: skip
    lasso = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(x, y)
    ours = run.model.weight.detach().double().numpy()[0]
    assert 0 < np.count_nonzero(lasso.coef_) < len(ours)
    np.testing.assert_array_equal(np.flatnonzero(ours), np.flatnonzero(lasso.coef_))
    assert relative(ours, lasso.coef_) < 1e-4
