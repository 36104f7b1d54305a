"""Learning-rate schedules: each factor sequence equals its formula and torch's scheduler."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from pydantic import TypeAdapter
from torch.optim import lr_scheduler

from tuneforge.config.schema import PlateauSchedule, ScheduleConfig
from tuneforge.recipe import SCHEDULES, Plateau, lr_factors

TOTAL, BASE_LR = 97, 0.3


def schedule(**fields):
    return TypeAdapter(ScheduleConfig).validate_python(fields)


def _onecycle_formula(t, total, pct_start, div_factor, final_div_factor):
    """OneCycleLR's two cosine phases, written from its documentation."""
    lo, hi = 1 / div_factor, 1.0
    end = lo / final_div_factor
    peak_step = pct_start * total - 1
    cos = lambda a, b, p: b + (a - b) / 2 * (np.cos(np.pi * p) + 1)  # noqa: E731
    return np.where(t <= peak_step, cos(lo, hi, t / peak_step),
                    cos(hi, end, (t - peak_step) / (total - 1 - peak_step)))  # fmt: skip


#: name -> (config fields, formula of t and the run length)
FORMULAS = {
    "constant": ({}, lambda t, n: np.ones_like(t)),
    "inverse_time": ({"decay": 0.05}, lambda t, n: 1 / (1 + 0.05 * t)),
    "exponential": ({"gamma": 0.97}, lambda t, n: 0.97**t),
    # lr·γᵗ capped at max_lr = 20·lr: 1.05ᵗ passes 20 at t ≈ 61.4, inside the 97 steps
    "exponential_growth": ({"gamma": 1.05, "max_lr": 20 * BASE_LR},
                           lambda t, n: np.minimum(1.05**t, 20.0)),  # fmt: skip
    "step": ({"step_size": 10, "gamma": 0.5}, lambda t, n: 0.5 ** np.floor(t / 10)),
    "cosine": ({"min_factor": 0.1}, lambda t, n: 0.1 + 0.9 * (1 + np.cos(np.pi * t / n)) / 2),
    "onecycle": ({"pct_start": 0.25, "div_factor": 20.0, "final_div_factor": 100.0},
                 lambda t, n: _onecycle_formula(t, n, 0.25, 20.0, 100.0)),  # fmt: skip
    "plateau": ({}, lambda t, n: np.ones_like(t)),  # reductions come from validation, see below
}


def test_every_registered_schedule_has_a_formula():
    assert set(FORMULAS) == set(SCHEDULES)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_factors_equal_the_formula(name):
    fields, formula = FORMULAS[name]
    t = np.arange(TOTAL, dtype=np.float64)
    got = lr_factors(schedule(name=name, **fields), TOTAL, BASE_LR)
    assert got.dtype == torch.float64 and got.shape == (TOTAL,)
    np.testing.assert_allclose(got.numpy(), formula(t, TOTAL), rtol=1e-12, atol=1e-15)


def _torch_lrs(make_scheduler, total: int) -> np.ndarray:
    """The learning rate torch's scheduler sets before each of ``total`` optimizer steps."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if len(lrs) < total:
            scheduler.step()
    return np.array(lrs)


TORCH_EQUIVALENTS = {
    "exponential": ({"gamma": 0.97}, lambda o: lr_scheduler.ExponentialLR(o, gamma=0.97)),
    # torch has no cap: LambdaLR with min(γᵗ, max_lr/lr) is the growth-with-a-cap rule
    "exponential_growth": ({"gamma": 1.05, "max_lr": 20 * BASE_LR},
                           lambda o: lr_scheduler.LambdaLR(o, lambda t: min(1.05**t, 20.0))),  # fmt: skip
    "step": ({"step_size": 10, "gamma": 0.5},
             lambda o: lr_scheduler.StepLR(o, step_size=10, gamma=0.5)),  # fmt: skip
    "cosine": ({"min_factor": 0.1},
               lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL, eta_min=0.1 * BASE_LR)),
    "onecycle": (
        {"pct_start": 0.25, "div_factor": 20.0, "final_div_factor": 100.0},
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=BASE_LR, total_steps=TOTAL, pct_start=0.25,
                                          div_factor=20.0, final_div_factor=100.0,
                                          cycle_momentum=False),  # fmt: skip
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENTS))
def test_factors_equal_torch_lr_scheduler(name):
    fields, make_scheduler = TORCH_EQUIVALENTS[name]
    ours = BASE_LR * lr_factors(schedule(name=name, **fields), TOTAL, BASE_LR).numpy()
    np.testing.assert_allclose(ours, _torch_lrs(make_scheduler, TOTAL), rtol=1e-9, atol=1e-15)


def test_growth_before_its_cap_is_torchs_exponential_lr_with_gamma_above_one():
    ours = BASE_LR * lr_factors(schedule(name="exponential_growth", gamma=1.1, max_lr=1e6), 60, BASE_LR)
    theirs = _torch_lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=1.1), 60)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-9)
    assert theirs[-1] == pytest.approx(BASE_LR * 1.1**59, rel=1e-9)


def test_the_growth_cap_is_an_absolute_rate_and_bounds_the_warmup_too():
    # lr 0.01 growing ×2 per step under max_lr 0.05: 0.01, 0.02, 0.04, then 0.05 for good
    lrs = 0.01 * lr_factors(schedule(name="exponential_growth", gamma=2.0, max_lr=0.05), 6, 0.01)
    np.testing.assert_allclose(lrs.numpy(), [0.01, 0.02, 0.04, 0.05, 0.05, 0.05], rtol=1e-12)
    # a cap below the base rate holds the rate at the cap from the first step, warm-up included
    low = 0.1 * lr_factors(schedule(name="exponential_growth", max_lr=0.03, warmup_steps=4), 8, 0.1)
    np.testing.assert_allclose(low.numpy(), [0.025, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03], rtol=1e-12)
    with pytest.raises(ValueError, match="pass the base lr"):
        lr_factors(schedule(name="exponential_growth", max_lr=0.03), 8)


def test_cosine_period_shorter_than_the_run_stays_at_the_floor():
    factors = lr_factors(schedule(name="cosine", min_factor=0.2, period=30), TOTAL).numpy()
    torch_lrs = _torch_lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=0.2 * BASE_LR), 31)
    np.testing.assert_allclose(BASE_LR * factors[:31], torch_lrs, rtol=1e-9)
    np.testing.assert_allclose(factors[30:], 0.2, rtol=1e-12)  # torch would climb back up


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_warmup_is_a_linear_ramp_then_the_schedule_from_its_own_step_zero(name):
    fields = {**FORMULAS[name][0]}
    warm = 8
    got = lr_factors(schedule(name=name, warmup_steps=warm, **fields), TOTAL, BASE_LR).numpy()
    np.testing.assert_allclose(got[:warm], (np.arange(warm) + 1) / warm, rtol=1e-12)
    after = lr_factors(schedule(name=name, **fields), TOTAL - warm, BASE_LR).numpy()
    np.testing.assert_allclose(got[warm:], after, rtol=1e-12)


def test_warmup_then_exponential_equals_torch_linear_lr_then_exponential_lr():
    warm = 5
    ours = BASE_LR * lr_factors(schedule(name="exponential", gamma=0.9, warmup_steps=warm), 40).numpy()

    def make(o):
        ramp = lr_scheduler.LinearLR(o, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1)
        decay = lr_scheduler.ExponentialLR(o, gamma=0.9)
        return lr_scheduler.SequentialLR(o, [ramp, decay], milestones=[warm])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR calls step(0) on the next scheduler
        theirs = _torch_lrs(make, 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def _monitored_values(mode: str) -> list[float]:
    """Improves, stalls (with changes inside the threshold), improves again, stalls for long."""
    gen = np.random.default_rng(0)
    values = list(np.linspace(1.0, 0.5, 6)) + [0.49999] * 4 + [0.5 + 1e-3 * gen.random()] * 3
    values += list(np.linspace(0.45, 0.3, 4)) + list(0.3 + 0.01 * gen.random(20)) + [math.nan, 0.2]
    return values if mode == "min" else [-v for v in values]


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("patience,threshold,min_factor", [(2, 1e-4, 0.0), (0, 0.0, 0.0),
                                                             (1, 1e-2, 0.05)])  # fmt: skip
def test_plateau_equals_reduce_lr_on_plateau(mode, patience, threshold, min_factor):
    cfg = PlateauSchedule(patience=patience, factor=0.5, threshold=threshold, min_factor=min_factor)
    ours = Plateau(cfg, mode)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    theirs = lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=0.5, patience=patience,
                                            threshold=threshold, threshold_mode="rel",
                                            min_lr=min_factor * BASE_LR)  # fmt: skip
    reductions = 0
    for value in _monitored_values(mode):
        factor = float(ours.update(value))
        theirs.step(value)
        if optimizer.param_groups[0]["lr"] < 1e-6:
            break  # torch skips reductions smaller than its eps=1e-8 (absolute); we do not
        assert BASE_LR * factor == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        reductions += factor < 1
    assert reductions > 0  # the sequence exercised at least one reduction


def test_plateau_members_plateau_independently():
    cfg = PlateauSchedule(patience=1, factor=0.5)
    batched = Plateau(cfg, "min", members=2)
    alone = [Plateau(cfg, "min"), Plateau(cfg, "min")]
    for a, b in [(1.0, 1.0), (0.9, 1.0), (0.8, 1.0), (0.8, 0.7), (0.8, 0.7), (0.7, 0.7)]:
        got = batched.update(torch.tensor([a, b]))
        want = [float(alone[0].update(a)), float(alone[1].update(b))]
        assert got.tolist() == want
    assert got[0] != got[1]
