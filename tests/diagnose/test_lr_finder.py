"""The learning-rate range test: schedule, rules, suggestion quality, restoring, NaN safety."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch import nn

import tuneforge
from tuneforge.data import prepare
from tuneforge.diagnose.lr_finder import (
    RULES,
    lr_find,
    lr_schedule,
    range_test,
    suggest,
)
from tuneforge.errors import ConfigError
from tuneforge.models import build_model
from tuneforge.recipe import Recipe, make_optimizer
from tuneforge.report.lr_find import write_lr_find


def setup(overrides: list[str]):
    cfg = tuneforge.load_config(overrides=overrides)
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    return cfg, data, recipe, model


def test_schedule_is_the_exponential_growth_formula():
    lrs = lr_schedule(1e-6, 1.0, 60)
    expected = [1e-6 * (1.0 / 1e-6) ** (k / 60) for k in range(60)]  # SPEC §7
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    np.testing.assert_allclose(lrs, np.geomspace(1e-6, 1.0, 61)[:-1], rtol=1e-9)


# ------------------------------------------------------------------------------- the rules
def synthetic_curve():
    """Loss falling fastest (per log10 LR) at LR 1e-3, lowest near 0.1, then blowing up."""
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    loss = 2 - np.tanh(1.5 * (x + 3)) + np.where(x > -1, 40 * (x + 1) ** 2, 0.0)
    return lrs.tolist(), loss.tolist()


def test_steepest_rule_finds_the_steepest_descent():
    lrs, loss = synthetic_curve()
    index = suggest(lrs, loss, "steepest", skip_start=5, skip_end=5)
    assert lrs[index] == pytest.approx(1e-3, rel=0.15)


def test_minimum_rule_is_a_tenth_of_the_lowest_point():
    lrs, loss = synthetic_curve()
    lowest = lrs[int(np.argmin(loss))]
    index = suggest(lrs, loss, "minimum", skip_start=5, skip_end=5)
    assert lrs[index] == pytest.approx(lowest / 10, rel=0.15)


def test_valley_rule_lands_inside_the_falling_stretch():
    lrs, loss = synthetic_curve()
    index = suggest(lrs, loss, "valley", skip_start=5, skip_end=5)
    assert loss[index] < loss[5] and index < int(np.argmin(loss))


def test_candidates_stop_at_the_lowest_loss_and_skip_non_finite_points():
    lrs, loss = synthetic_curve()
    loss[60] = math.nan
    # a spike that falls back steeply after the minimum must not be picked
    loss = loss[:120] + [500.0, 3.0, 2.9, 2.8, 2.7, 2.6] + loss[126:]
    index = suggest(lrs, loss, "steepest", skip_start=5, skip_end=5)
    assert index != 60 and index < int(np.nanargmin(loss))
    assert set(RULES) == {"steepest", "valley", "minimum"}


# ------------------------------------------------------------------ quality of the suggestion
def test_suggestion_is_inside_gradient_descents_stable_range_on_linear_regression():
    """Full-batch GD on MSE is stable for α < 2/λ_max(H), H = (2/n)·AᵀA with A = [X, 1]."""
    cfg, data, recipe, model = setup(["data.source=linear", "model.kind=linear",
                                      "train.optimizer.name=sgd", "train.batch_size=full"])  # fmt: skip
    x = data.x["train"].double().numpy()
    a = np.hstack([x, np.ones((len(x), 1))])
    stable = 2 / np.linalg.eigvalsh(2 / len(a) * a.T @ a).max()
    curve = range_test(model, data, recipe, min_lr=1e-5, max_lr=10.0, steps=100)
    assert 0.05 * stable <= curve.suggestion < stable, (curve.suggestion, stable)


def test_suggestion_is_inside_the_range_a_grid_of_short_trainings_finds_good():
    """Independent reference: train 4 epochs at each LR of a grid; good = val loss ≤ 2× best."""
    base = ["data.source=digits", "train.epochs=4", "model.hidden=[64]", "logging.report=false",
            "train.diagnostics.grad_every=0"]  # fmt: skip
    grid = np.logspace(-4, 0, 9)
    val = [tuneforge.train(tuneforge.load_config(overrides=[*base, f"train.optimizer.lr={lr}"]))
           .summary["metrics"]["val/loss"] for lr in grid]  # fmt: skip
    good = [lr for lr, v in zip(grid, val, strict=True) if v <= 2 * min(val)]
    curve = lr_find(tuneforge.load_config(overrides=base))
    assert min(good) <= curve.suggestion <= max(good), (curve.suggestion, dict(zip(grid, val, strict=True)))


# ------------------------------------------------------------------------------- restoring
def test_model_optimizer_and_rng_are_restored_bit_exactly():
    cfg, data, recipe, model = setup(["data.source=iris", "model.hidden=[16,16]",
                                      "model.norm=batch", "model.dropout=0.2"])  # fmt: skip
    optimizer = make_optimizer(cfg.train.optimizer, model.parameters())
    for _ in range(3):  # give Adam some state to lose
        optimizer.zero_grad()
        recipe.loss(model(data.x["train"]), data.y["train"]).mean().backward()
        optimizer.step()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    opt_state = copy.deepcopy(optimizer.state_dict())
    rng = torch.get_rng_state()
    model.eval()

    curve = range_test(model, data, recipe, optimizer=optimizer, min_lr=1e-4, max_lr=1.0, steps=40)

    assert max(curve.losses) > min(curve.losses)  # the sweep really trained
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in weights.items())
    restored = optimizer.state_dict()
    for key, state in opt_state["state"].items():
        assert all(torch.equal(torch.as_tensor(state[n]), torch.as_tensor(restored["state"][key][n]))
                   for n in state)  # fmt: skip
    assert [g["lr"] for g in restored["param_groups"]] == [g["lr"] for g in opt_state["param_groups"]]
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training  # mode kept too


# ------------------------------------------------------------------------------- NaN safety
class NaNAt(nn.Module):
    """Wraps a model; its ``at``-th forward call (0-based) returns NaN."""

    def __init__(self, inner: nn.Module, at: int):
        super().__init__()
        self.inner, self.at, self.calls = inner, at, 0

    def forward(self, x):
        out = self.inner(x)
        self.calls += 1
        return out * math.nan if self.calls - 1 == self.at else out


def test_nan_in_the_sweep_stops_it_and_the_suggestion_comes_from_before():
    cfg, data, recipe, model = setup(["data.source=iris"])
    wrapped = NaNAt(model, at=45)
    weights = {k: v.clone() for k, v in wrapped.state_dict().items()}
    curve = range_test(wrapped, data, recipe, min_lr=1e-5, max_lr=1e-1, steps=80)
    assert curve.stopped == "non-finite" and len(curve.lrs) == 46
    assert math.isnan(curve.losses[-1]) and curve.index < 45
    assert math.isfinite(curve.suggestion)
    assert all(torch.equal(wrapped.state_dict()[k], v) for k, v in weights.items())
    json.loads(json.dumps(curve.to_dict()))  # the record stays writable


def test_nan_on_the_first_step_gives_no_suggestion_instead_of_failing():
    cfg, data, recipe, model = setup(["data.source=iris"])
    curve = range_test(NaNAt(model, at=0), data, recipe, steps=40)
    assert curve.suggestion is None and curve.index is None and curve.stopped == "non-finite"


def test_an_exploding_sweep_stops_early_with_a_finite_suggestion():
    cfg, data, recipe, model = setup(["data.source=iris", "train.optimizer.name=sgd"])
    curve = range_test(model, data, recipe, min_lr=1e-4, max_lr=1e6, steps=100)
    assert curve.stopped in ("exploded", "non-finite") and len(curve.lrs) < 100
    assert curve.suggestion is not None and curve.suggestion < curve.lrs[-1]


# --------------------------------------------------------------------------------- outputs
def test_write_lr_find_applies_the_suggestion_to_a_copy_of_the_config(tmp_path):
    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.optimizer.lr=0.5"])
    curve, written = write_lr_find(cfg, tmp_path / "lr", apply=True, steps=40, max_lr=1.0)
    saved = yaml.safe_load((tmp_path / "lr" / "config.yaml").read_text())
    assert saved["train"]["optimizer"]["lr"] == pytest.approx(curve.suggestion, rel=5e-3)
    assert saved["data"]["source"] == "iris" and cfg.train.optimizer.lr == 0.5  # a copy
    record = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    assert record["suggestion"] == curve.suggestion and record["rule"] == "steepest"
    assert (tmp_path / "lr" / "plots" / "lr_find.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_cli_lr_find_and_its_refusal_to_overwrite_a_run(tmp_path):
    cmd = [sys.executable, "-m", "tuneforge", "lr-find", "--set", "data.source=iris",
           "--steps", "40", "--out", str(tmp_path / "lr"), "--apply"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "suggested learning rate" in done.stdout and (tmp_path / "lr" / "config.yaml").is_file()
    (tmp_path / "lr" / "summary.json").write_text("{}")  # now it looks like a finished run
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "finished run" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_bad_settings_are_refused_before_the_sweep():
    cfg, data, recipe, model = setup(["data.source=iris"])
    with pytest.raises(ConfigError, match="--rule: unknown 'fastest'"):
        range_test(model, data, recipe, rule="fastest")
    with pytest.raises(ConfigError, match="min_lr < max_lr"):
        range_test(model, data, recipe, min_lr=1.0, max_lr=0.1)
