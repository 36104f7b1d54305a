"""How a run fit: the constant-predictor baseline, and the overfit/underfit/diverged rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tuneforge
from tuneforge.data import prepare
from tuneforge.diagnose.fit import constant_baseline, diagnose_fit, fit_warnings
from tuneforge.recipe import Recipe


def history(train: list[float], val: list[float] | None = None) -> list[dict]:
    val = val or [math.nan] * len(train)
    return [{"epoch": i + 1, "train/loss": t, **({"val/loss": v} if math.isfinite(v) else {})}
            for i, (t, v) in enumerate(zip(train, val, strict=True))]  # fmt: skip


@pytest.mark.parametrize("source, loss", [("iris", "cross_entropy"), ("breast_cancer", "bce"),
                                          ("diabetes", "mse"), ("diabetes", "mae")])  # fmt: skip
def test_constant_baseline_matches_its_closed_form(source, loss):
    cfg = tuneforge.load_config(overrides=[f"data.source={source}", f"train.loss={loss}"])
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    y = data.y["train"].double().numpy()
    if loss in ("cross_entropy", "bce"):  # the entropy of the class priors
        p = np.bincount(y.astype(int)) / len(y)
        expected = -(p * np.log(p)).sum()
    elif loss == "mse":  # predicting the mean leaves the variance
        expected = y.var()
    else:  # predicting the median leaves the mean absolute deviation from it
        expected = np.abs(y - np.median(y)).mean()
    assert constant_baseline(recipe, data.y["train"]) == pytest.approx(expected, rel=1e-5)


def test_overfit_needs_a_val_minimum_a_rise_and_a_falling_train_loss():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1]
    val = [1.0, 0.7, 0.5, 0.55, 0.6, 0.65, 0.7]
    fit = diagnose_fit(history(train, val), "completed", None, baseline=2.0)
    assert fit["verdict"] == "overfit" and fit["best_epoch"] == 3
    assert fit["gap"] == pytest.approx(0.7 - 0.1) and fit["rise"] == pytest.approx(0.4)
    assert "train.regularization.l2: 0.001" in fit["suggestion"]
    assert "train.early_stopping" in fit["suggestion"] and "epoch 3" in fit["suggestion"]
    rising_train = [1.0, 0.6, 0.4, 0.45, 0.5, 0.55, 0.6]  # both rise: not overfitting
    assert diagnose_fit(history(rising_train, val), "completed", None, 2.0)["verdict"] != "overfit"
    small_rise = [1.0, 0.7, 0.5, 0.52, 0.53, 0.53, 0.54]  # 8% < OVERFIT_RISE
    assert diagnose_fit(history(train, small_rise), "completed", None, 2.0)["verdict"] == "good"


def history_lr(train: list[float], lr: float) -> list[dict]:
    return [{**r, "lr": lr} for r in history(train)]


def test_underfit_when_little_was_learned_slow_or_overshooting():
    flat = diagnose_fit(history([2.3, 2.25, 2.2, 2.2, 2.2, 2.21, 2.2, 2.2]), "completed", None, 2.3)
    assert (flat["verdict"], flat["cause"]) == ("underfit", "too_small")
    assert "model.hidden" in flat["suggestion"]
    wild = diagnose_fit(history_lr([900.0, 30.0, 40.0, 2.2], 0.5), "completed", None, baseline=2.3)
    assert (wild["verdict"], wild["cause"]) == ("underfit", "lr_too_high")
    assert "lower train.optimizer.lr from 0.5 to 0.05" in wild["suggestion"]


def test_slow_monotone_descent_from_a_high_start_asks_for_a_higher_lr():
    # Issue 20.1: `init --example linear`, epochs 20, lr 0.005: 9.90 -> 4.87, falling every epoch,
    # was read as "the steps overshoot; try a lower learning rate" (above 3x the baseline at epoch 1).
    train = list(np.geomspace(9.897, 4.87, 20))
    fit = diagnose_fit(history_lr(train, 0.005), "completed", None, baseline=3.0)
    assert (fit["verdict"], fit["cause"]) == ("underfit", "lr_too_low")
    assert "raise train.optimizer.lr from 0.005 to 0.05" in fit["suggestion"]
    assert "lower" not in fit["suggestion"]


def test_vanishing_gradients_ask_for_another_activation_not_another_lr():
    flat = history([0.76, 0.69, 0.67, 0.66, 0.66, 0.66, 0.66, 0.66])
    gradients = {"vanishing": {"layer": "0", "step": 10, "norm": 1e-9, "ratio": 1e-6}}
    fit = diagnose_fit(flat, "completed", None, 0.66, gradients)
    assert (fit["verdict"], fit["cause"]) == ("underfit", "vanishing_gradients")
    assert "model.activation: relu" in fit["suggestion"] and "model.init: he" in fit["suggestion"]


def test_two_epochs_still_falling_are_not_converged():
    # Issue 20.2: runs of <= 2 epochs were always "good", even with val loss 1.67 -> 1.01.
    fit = diagnose_fit(history([1.9, 1.2], [1.67, 1.01]), "completed", None, baseline=2.3)
    assert fit["verdict"] == "not_converged" and "train.epochs: 4" in fit["suggestion"]
    one = diagnose_fit(history([1.9], [1.67]), "completed", None, baseline=2.3)
    assert one["verdict"] == "unknown" and "train.epochs" in one["suggestion"]


def test_diverged_reports_step_last_finite_loss_and_lr():
    divergence = {"epoch": 2, "step": 37, "last_finite_loss": 4.5, "lr": 3.0}
    fit = diagnose_fit(history([1.0, math.nan]), "diverged", divergence, baseline=2.3)
    assert (fit["verdict"], fit["step"], fit["last_finite_loss"], fit["lr"]) == ("diverged", 37, 4.5, 3.0)
    assert "from 3 to 0.3" in fit["suggestion"]  # a tenth of the LR that diverged
    assert fit_warnings(fit)[0].startswith("diverged: the loss became NaN/Inf at step 37")


def test_real_runs_overfit_underfit_and_fit_well():
    def verdict(*overrides: str) -> dict:
        cfg = tuneforge.load_config(overrides=["train.diagnostics.grad_every=0", *overrides])
        return tuneforge.train(cfg).summary["diagnosis"]["fit"]

    torch.manual_seed(0)
    overfit = verdict("data.source=breast_cancer", "model.hidden=[64]", "train.optimizer.lr=0.01",
                      "train.epochs=25", "train.batch_size=16")  # fmt: skip
    assert overfit["verdict"] == "overfit" and overfit["best_epoch"] < 20
    underfit = verdict("data.source=iris", "model.hidden=[4]", "train.optimizer.name=sgd",
                       "train.optimizer.lr=0.001", "train.epochs=8",
                       "train.diagnostics.grad_every=5")  # its update ratios show the tiny steps  # fmt: skip
    assert underfit["verdict"] == "underfit" and "raise train.optimizer.lr" in underfit["suggestion"]
    good = verdict("data.source=iris", "train.epochs=40")
    assert good["verdict"] == "good" and good["suggestion"] is None


def test_a_loss_that_jumps_up_again_and_again_with_large_steps_is_unstable():
    # val loss rising by more than UNSTABLE_JUMP (25 %) of the baseline 0.66 twice (epochs 3, 5)
    val = [1.5, 0.9, 1.6, 0.5, 1.2, 0.4, 0.4]
    train = [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01]
    hist = [{**r, "lr": 0.3} for r in history(train, val)]
    big = {"max_update_ratio": 1.5, "first_norm": 2.0}
    fit = diagnose_fit(hist, "completed", None, 0.66, big)
    assert (fit["verdict"], fit["cause"], fit["jumps"]) == ("unstable", "lr_too_high", 2)
    assert "epochs 3, 5" in fit["reason"]
    assert "lower train.optimizer.lr from 0.3 to 0.03" in fit["suggestion"]
    assert diagnose_fit(hist, "completed", None, 0.66)["verdict"] == "unstable"  # no checks: curve
    # the same curve with healthy steps (<= LARGE_UPDATE) is noise, not a too-high LR
    calm = diagnose_fit(hist, "completed", None, 0.66, {**big, "max_update_ratio": 0.05})
    assert calm["verdict"] != "unstable"
    one_jump = [1.5, 0.9, 1.6, 0.5, 0.45, 0.4, 0.4]  # a single bad epoch is not instability
    assert diagnose_fit(history(train, one_jump), "completed", None, 0.66, big)["verdict"] != "unstable"


def test_huge_gradients_at_step_0_are_exploding_gradients():
    train, val = [6e4, 2e4, 7e3, 4e3, 2e3], [3e4, 6e3, 3.6e3, 3.4e3, 3e3]
    fit = diagnose_fit(history(train, val), "completed", None, 0.66, {"first_norm": 2.2e5})
    assert (fit["verdict"], fit["cause"]) == ("unstable", "exploding_gradients")
    assert "train.clip_grad_norm: 1.0" in fit["suggestion"] and "model.init: he" in fit["suggestion"]
    # EXPLODING_START: 1000 x the baseline; just below it the init is not blamed
    below = diagnose_fit(history(train, val), "completed", None, 0.66, {"first_norm": 650.0})
    assert below.get("cause") != "exploding_gradients"


def test_still_falling_with_tiny_steps_asks_for_a_higher_lr_not_more_epochs_alone():
    train = list(np.linspace(0.62, 0.50, 20))  # learned > 20 % of the baseline, still falling
    tiny = {"layers": {"0": {"median_update_ratio": 1e-4}, "2": {"median_update_ratio": 2e-4}}}
    fit = diagnose_fit(history_lr(train, 3e-5), "completed", None, 0.66, tiny)
    assert (fit["verdict"], fit["cause"]) == ("underfit", "lr_too_low")
    assert "raise train.optimizer.lr from 3e-05 to 0.0003" in fit["suggestion"]
    healthy = {"layers": {"0": {"median_update_ratio": 1e-2}}}
    assert diagnose_fit(history_lr(train, 3e-3), "completed", None, 0.66, healthy)["verdict"] == "not_converged"
