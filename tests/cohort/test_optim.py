"""Every batched optimizer against torch.optim, member by member, over 100 steps (float32).

Each member gets its own hyperparameters; the gradients come from a loss whose gradient depends
on the current parameters, so any difference in an update would compound over the steps.
"""

from __future__ import annotations

import math

import pytest
import torch

from tuneforge.config.schema import AdagradConfig, AdamConfig, RMSpropConfig, SGDConfig
from tuneforge.engine.cohort.optim import (
    FAMILIES,
    OPTIMIZERS,
    clip_grad_norm_,
    clip_grad_value_,
    member_hyperparameters,
)
from tuneforge.engine.cohort.reference import REFERENCE_STEPS
from tuneforge.recipe import make_optimizer
from tuneforge.recipe.optimizers import optimizer_kwargs

MEMBERS = {
    "sgd": [
        SGDConfig(lr=0.1),
        SGDConfig(lr=0.05, momentum=0.9),
        SGDConfig(lr=0.03, momentum=0.8, nesterov=True),
        SGDConfig(lr=0.02, momentum=0.5, dampening=0.3, weight_decay=0.01),
        SGDConfig(lr=0.07, weight_decay=0.1),
    ],
    "adam": [
        AdamConfig(name="adam", lr=0.01),
        AdamConfig(name="adam", lr=0.02, betas=(0.8, 0.99), eps=1e-6),
        AdamConfig(name="adam", lr=0.005, weight_decay=0.05),
        AdamConfig(name="adamw", lr=0.01, weight_decay=0.1),
        AdamConfig(name="adam", lr=0.01, amsgrad=True),
        AdamConfig(name="adamw", lr=0.03, betas=(0.5, 0.9), amsgrad=True),
    ],
    "rmsprop": [
        RMSpropConfig(lr=0.01),
        RMSpropConfig(lr=0.005, alpha=0.9, momentum=0.5),
        RMSpropConfig(lr=0.002, centered=True),
        RMSpropConfig(lr=0.003, centered=True, momentum=0.7, weight_decay=0.01, eps=1e-6),
    ],
    "adagrad": [
        AdagradConfig(lr=0.1),
        AdagradConfig(lr=0.05, lr_decay=0.01),
        AdagradConfig(lr=0.2, initial_accumulator_value=0.1, weight_decay=0.01),
        AdagradConfig(lr=0.1, eps=1e-6),
    ],
}
SHAPES = [(3, 4), (5,)]


def objective(params: list[torch.Tensor], coef: list[torch.Tensor]) -> torch.Tensor:
    """A smooth, non-quadratic loss per member (sum over members: their gradients are separate)."""
    return sum(
        (torch.sin(3 * p) * c + 0.5 * (p - c).square() * p.square()).sum()
        for p, c in zip(params, coef, strict=True)
    )


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


#: every family in its batched form (what a GPU runs), and where torch has a fused CPU kernel,
#: in the fused form (one kernel call per member: what a CPU runs)
FORMS = [(family, False) for family in sorted(MEMBERS)] + [
    (family, True) for family in sorted(MEMBERS) if OPTIMIZERS[family].fused_kernel
]


def make_batched(family: str, params, hyper, fused: bool):
    opt = OPTIMIZERS[family](params, hyper)
    opt.fused = fused
    return opt


@pytest.mark.parametrize(("family", "fused"), FORMS)
def test_every_member_follows_torch_optim(family: str, fused: bool) -> None:
    cfgs = MEMBERS[family]
    k = len(cfgs)
    gen = torch.Generator().manual_seed(7)
    start = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    coef = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    decay = torch.linspace(0.97, 1.0, k, dtype=torch.float64)  # a per-member schedule

    hyper = member_hyperparameters([optimizer_kwargs(c) for c in cfgs], [c.name for c in cfgs])
    assert {FAMILIES[c.name] for c in cfgs} == {family}
    params = [p.clone() for p in start]
    batched = make_batched(family, params, hyper, fused)

    alone = [[p[i].clone().requires_grad_() for p in start] for i in range(k)]
    references = [make_optimizer(c, ps) for c, ps in zip(cfgs, alone, strict=True)]

    base_lr = torch.tensor([c.lr for c in cfgs], dtype=torch.float64)
    for t in range(100):
        lr = base_lr * decay**t
        leaves = [p.requires_grad_() for p in params]
        grads = torch.autograd.grad(objective(leaves, coef), leaves)
        params = [p.detach() for p in leaves]
        batched.step(params, grads, lr)
        for i, (ps, opt) in enumerate(zip(alone, references, strict=True)):
            for group in opt.param_groups:
                group["lr"] = float(lr[i])
            opt.zero_grad()
            objective(ps, [c[i] for c in coef]).backward()
            opt.step()

    for i in range(k):
        for p, q in zip(params, alone[i], strict=True):
            assert relative(p[i], q.detach()) < 1e-5, (family, i, cfgs[i])
    moved = [relative(p, s) for p, s in zip(params, start, strict=True)]
    assert min(moved) > 1e-2  # the comparison is not between two untouched starts


@pytest.mark.parametrize(("family", "fused"), FORMS)
def test_members_that_join_later_follow_torch_optim_from_their_own_first_step(
    family: str, fused: bool
) -> None:
    """Half the members start, the rest join after 40 steps (fresh state, own step count:
    Adam's bias correction, Adagrad's decay, SGD's first momentum buffer); every member still
    follows its own torch.optim, counted from when it joined."""
    cfgs = MEMBERS[family][::-1]  # the late half holds the branches the early half lacks
    k, early, joins_at = len(cfgs), len(cfgs) // 2, 40
    gen = torch.Generator().manual_seed(11)
    start = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    coef = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    hyper = member_hyperparameters([optimizer_kwargs(c) for c in cfgs], [c.name for c in cfgs])
    params = [p[:early].clone() for p in start]
    batched = make_batched(family, params, {n: v[:early] for n, v in hyper.items()}, fused)
    alone = [[p[i].clone().requires_grad_() for p in start] for i in range(k)]
    references = [make_optimizer(c, ps) for c, ps in zip(cfgs, alone, strict=True)]

    for t in range(100):
        if t == joins_at:
            params = [torch.cat([p, s[early:]]) for p, s in zip(params, start, strict=True)]
            batched.add(params, {n: v[early:] for n, v in hyper.items()})
        rows = len(params[0])
        lr = hyper["lr"][:rows] * 0.99**t
        leaves = [p.requires_grad_() for p in params]
        grads = torch.autograd.grad(objective(leaves, [c[:rows] for c in coef]), leaves)
        params = [p.detach() for p in leaves]
        batched.step(params, grads, lr)
        for i in range(rows):
            for group in references[i].param_groups:
                group["lr"] = float(lr[i])
            references[i].zero_grad()
            objective(alone[i], [c[i] for c in coef]).backward()
            references[i].step()

    assert batched.t.tolist() == [100.0] * early + [100.0 - joins_at] * (k - early)
    for i in range(k):
        for p, q in zip(params, alone[i], strict=True):
            assert relative(p[i], q.detach()) < 1e-5, (family, i, cfgs[i])


def test_members_do_not_interact() -> None:
    """A member's trajectory is the same whichever members it is stacked with."""
    cfgs = MEMBERS["adam"]
    gen = torch.Generator().manual_seed(3)
    start = [torch.randn(len(cfgs), *shape, generator=gen) for shape in SHAPES]
    coef = [torch.randn(len(cfgs), *shape, generator=gen) for shape in SHAPES]

    def train(rows: list[int]) -> list[torch.Tensor]:
        sub = [cfgs[r] for r in rows]
        hyper = member_hyperparameters([optimizer_kwargs(c) for c in sub], [c.name for c in sub])
        params = [p[rows].clone() for p in start]
        opt = OPTIMIZERS["adam"](params, hyper)
        lr = torch.tensor([c.lr for c in sub], dtype=torch.float64)
        for _ in range(30):
            leaves = [p.requires_grad_() for p in params]
            grads = torch.autograd.grad(objective(leaves, [c[rows] for c in coef]), leaves)
            params = [p.detach() for p in leaves]
            opt.step(params, grads, lr)
        return params

    together = train(list(range(len(cfgs))))
    for i in range(len(cfgs)):
        alone = train([i])
        assert all(
            torch.allclose(a[0], b[i], rtol=1e-6, atol=1e-7)
            for a, b in zip(alone, together, strict=True)
        )


def test_keep_drops_members_and_their_state() -> None:
    cfgs = MEMBERS["rmsprop"]
    hyper = member_hyperparameters([optimizer_kwargs(c) for c in cfgs], [c.name for c in cfgs])
    params = [torch.ones(len(cfgs), 2)]
    opt = OPTIMIZERS["rmsprop"](params, hyper)
    opt.step(params, [torch.arange(len(cfgs) * 2.0).view(-1, 2)], hyper["lr"])
    kept = torch.tensor([3, 1])
    before = opt.state["square_avg"][0][kept].clone()
    opt.keep(kept)
    assert torch.equal(opt.state["square_avg"][0], before)
    assert opt.hyper["lr"].tolist() == [cfgs[3].lr, cfgs[1].lr]


def test_clip_grad_norm_matches_torch_per_member() -> None:
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(4, *shape, generator=gen) * 3 for shape in SHAPES]
    max_norm = torch.tensor([1.0, math.inf, 100.0, 0.5], dtype=torch.float64)
    expected = []
    for i in range(4):
        ps = [torch.zeros(shape, requires_grad=True) for shape in SHAPES]
        for p, g in zip(ps, grads, strict=True):
            p.grad = g[i].clone()
        if math.isfinite(max_norm[i]):
            torch.nn.utils.clip_grad_norm_(ps, float(max_norm[i]))
        expected.append([p.grad for p in ps])
    clip_grad_norm_(grads, max_norm)
    for i in range(4):
        for g, e in zip(grads, expected[i], strict=True):
            torch.testing.assert_close(g[i], e, rtol=1e-6, atol=1e-7)
    assert torch.equal(grads[0][1], expected[1][0])  # inf: untouched, bit for bit


def test_clip_grad_value_matches_torch_per_member() -> None:
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(3, *shape, generator=gen) for shape in SHAPES]
    limits = torch.tensor([0.1, math.inf, 1.0], dtype=torch.float64)
    expected = [[g[i].clamp(-float(limits[i]), float(limits[i])) for g in grads] for i in range(3)]
    clip_grad_value_(grads, limits)
    for i in range(3):
        for g, e in zip(grads, expected[i], strict=True):
            assert torch.equal(g[i], e)


def _reference_kwargs(cfg) -> dict:
    """A member's hyperparameters as the reference steps take them (``betas`` split)."""
    kwargs = dict(optimizer_kwargs(cfg))
    if "betas" in kwargs:
        kwargs["beta1"], kwargs["beta2"] = kwargs.pop("betas")
    if FAMILIES[cfg.name] == "adam":
        kwargs["decoupled"] = cfg.name == "adamw"
    return kwargs


@pytest.mark.parametrize(("family", "fused"), FORMS)
def test_every_member_follows_the_plain_reference_step(family: str, fused: bool) -> None:
    """The batched (and fused) forms against the one-member update rule their docstrings state
    (engine/cohort/reference.py), member by member, over 100 steps."""
    cfgs = MEMBERS[family]
    k = len(cfgs)
    gen = torch.Generator().manual_seed(5)
    start = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    coef = [torch.randn(k, *shape, generator=gen) for shape in SHAPES]
    hyper = member_hyperparameters([optimizer_kwargs(c) for c in cfgs], [c.name for c in cfgs])
    params = [p.clone() for p in start]
    batched = make_batched(family, params, hyper, fused)
    alone = [[p[i].clone() for p in start] for i in range(k)]
    states = [[{} for _ in SHAPES] for _ in range(k)]
    step = REFERENCE_STEPS[family]
    for t in range(1, 101):
        lr = hyper["lr"] * 0.99**t
        leaves = [p.requires_grad_() for p in params]
        grads = torch.autograd.grad(objective(leaves, coef), leaves)
        params = [p.detach() for p in leaves]
        batched.step(params, grads, lr)
        for i, cfg in enumerate(cfgs):
            ps = [p.requires_grad_() for p in alone[i]]
            member_grads = torch.autograd.grad(objective(ps, [c[i] for c in coef]), ps)
            alone[i] = [p.detach() for p in ps]
            for p, g, state in zip(alone[i], member_grads, states[i], strict=True):
                step(p, g, state, t, **(_reference_kwargs(cfg) | {"lr": float(lr[i])}))
    for i in range(k):
        for p, q in zip(params, alone[i], strict=True):
            assert relative(p[i], q) < 1e-5, (family, i, cfgs[i])
