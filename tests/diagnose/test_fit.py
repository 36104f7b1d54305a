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
    assert "regularization" in fit["suggestion"] and "early stopping" in fit["suggestion"]
    rising_train = [1.0, 0.6, 0.4, 0.45, 0.5, 0.55, 0.6]  # both rise: not overfitting
    assert diagnose_fit(history(rising_train, val), "completed", None, 2.0)["verdict"] != "overfit"
    small_rise = [1.0, 0.7, 0.5, 0.52, 0.53, 0.53, 0.54]  # 8% < OVERFIT_RISE
    assert diagnose_fit(history(train, small_rise), "completed", None, 2.0)["verdict"] == "good"


def test_underfit_when_little_was_learned_slow_or_overshooting():
    slow = diagnose_fit(history([2.3, 2.25, 2.2, 2.2]), "completed", None, baseline=2.3)
    assert slow["verdict"] == "underfit" and "higher learning rate" in slow["suggestion"]
    wild = diagnose_fit(history([900.0, 30.0, 4.0, 2.2]), "completed", None, baseline=2.3)
    assert wild["verdict"] == "underfit" and "lower learning rate" in wild["suggestion"]


def test_underfit_when_still_learning_measured_against_the_constant_predictor():
    falling = [2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6]
    fit = diagnose_fit(history(falling, falling), "completed", None, baseline=2.3)
    assert fit["verdict"] == "underfit" and "more epochs" in fit["suggestion"]
    # halving a tiny loss is not "still learning": 0.012 -> 0.006 is 0.3% of the baseline
    tiny = [0.5, 0.1, 0.05, 0.03, 0.02, 0.015, 0.012, 0.006]
    assert diagnose_fit(history(tiny, tiny), "completed", None, 2.3)["verdict"] == "good"


def test_diverged_reports_step_last_finite_loss_and_lr():
    divergence = {"epoch": 2, "step": 37, "last_finite_loss": 4.5, "lr": 3.0}
    fit = diagnose_fit(history([1.0, math.nan]), "diverged", divergence, baseline=2.3)
    assert (fit["verdict"], fit["step"], fit["last_finite_loss"], fit["lr"]) == ("diverged", 37, 4.5, 3.0)
    assert "0.3" in fit["suggestion"]  # a tenth of the LR that diverged
    assert fit_warnings(fit)[0].startswith("diverged: the loss became NaN/Inf at step 37")


def test_real_runs_overfit_underfit_and_fit_well():
    def verdict(*overrides: str) -> dict:
        cfg = tuneforge.load_config(overrides=[*overrides, "train.diagnostics.grad_every=0"])
        return tuneforge.train(cfg).summary["diagnosis"]["fit"]

    torch.manual_seed(0)
    overfit = verdict("data.source=breast_cancer", "model.hidden=[64]", "train.optimizer.lr=0.01",
                      "train.epochs=25", "train.batch_size=16")  # fmt: skip
    assert overfit["verdict"] == "overfit" and overfit["best_epoch"] < 20
    underfit = verdict("data.source=iris", "model.hidden=[4]", "train.optimizer.name=sgd",
                       "train.optimizer.lr=0.001", "train.epochs=8")  # fmt: skip
    assert underfit["verdict"] == "underfit" and "higher learning rate" in underfit["suggestion"]
    good = verdict("data.source=iris", "train.epochs=40")
    assert good["verdict"] == "good" and good["suggestion"] is None
