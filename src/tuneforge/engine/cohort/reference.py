r"""Plain one-member steps of the cohort optimizers: the update rules, written out once.

The batched classes in :mod:`~tuneforge.engine.cohort.optim` compute these rules for K members
at once (per-member factors, ``torch.where`` branches, fused kernels); these functions compute
them for one member, one parameter tensor, in the order of torch.optim's algorithm boxes, with
nothing batched or fused. ``tests/cohort/test_optim.py`` checks every batched form against them
and against torch.optim itself. Each takes the parameter ``p``, its gradient ``g``, the member's
state (a dict it fills on the first step), the step count ``t`` (from 1) and the member's
hyperparameters as floats (torch.optim's keyword names; ``betas`` as ``beta1``/``beta2``).
"""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def sgd_step(p: Tensor, g: Tensor, state: dict, t: int, *, lr: float, momentum: float = 0.0,
             dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:  # fmt: skip
    r"""SGD: :math:`g \leftarrow g + \lambda p`; :math:`b \leftarrow \mu b + (1 - \tau) g`
    (:math:`b_1 = g`); :math:`g \leftarrow g + \mu b` (Nesterov) or :math:`b`;
    :math:`p \leftarrow p - \gamma g`."""
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        if t == 1:
            state["buf"] = g.clone()
        else:
            state["buf"].mul_(momentum).add_(g, alpha=1 - dampening)
        g = g + momentum * state["buf"] if nesterov else state["buf"]
    p.add_(g, alpha=-lr)


@torch.no_grad()
def adam_step(p: Tensor, g: Tensor, state: dict, t: int, *, lr: float, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
              amsgrad: bool = False, decoupled: bool = False) -> None:  # fmt: skip
    r"""Adam / AdamW: :math:`p \leftarrow p(1 - \gamma\lambda)` (AdamW) or
    :math:`g \leftarrow g + \lambda p` (Adam); :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`;
    :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`; :math:`\hat v = \max(\hat v, v)` (AMSGrad)
    else :math:`v`; :math:`p \leftarrow p - \gamma \frac{m / (1-\beta_1^t)}
    {\sqrt{\hat v / (1-\beta_2^t)} + \epsilon}`."""
    if t == 1:
        state.update(m=torch.zeros_like(p), v=torch.zeros_like(p), vmax=torch.zeros_like(p))
    if decoupled:
        p.mul_(1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
    state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
    v = state["v"]
    if amsgrad:
        torch.maximum(state["vmax"], v, out=state["vmax"])
        v = state["vmax"]
    denominator = (v / (1 - beta2**t)).sqrt() + eps
    p.addcdiv_(state["m"], denominator, value=-lr / (1 - beta1**t))


@torch.no_grad()
def rmsprop_step(p: Tensor, g: Tensor, state: dict, t: int, *, lr: float, alpha: float = 0.99,
                 eps: float = 1e-8, momentum: float = 0.0, centered: bool = False,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
    r"""RMSprop: :math:`g \leftarrow g + \lambda p`; :math:`v \leftarrow \alpha v + (1-\alpha) g^2`;
    :math:`\tilde v = v - \bar g^2` with :math:`\bar g \leftarrow \alpha \bar g + (1-\alpha) g`
    (centered) else :math:`v`; :math:`b \leftarrow \mu b + g / (\sqrt{\tilde v} + \epsilon)` and
    :math:`p \leftarrow p - \gamma b` (momentum) or :math:`p \leftarrow p - \gamma g / (\sqrt{\tilde
    v} + \epsilon)`."""
    if t == 1:
        state.update(v=torch.zeros_like(p), mean=torch.zeros_like(p), buf=torch.zeros_like(p))
    if weight_decay:
        g = g + weight_decay * p
    state["v"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
    v = state["v"]
    if centered:
        state["mean"].mul_(alpha).add_(g, alpha=1 - alpha)
        v = v - state["mean"] * state["mean"]
    denominator = v.sqrt() + eps
    if momentum:
        state["buf"].mul_(momentum).addcdiv_(g, denominator)
        p.add_(state["buf"], alpha=-lr)
    else:
        p.addcdiv_(g, denominator, value=-lr)


@torch.no_grad()
def adagrad_step(p: Tensor, g: Tensor, state: dict, t: int, *, lr: float, lr_decay: float = 0.0,
                 eps: float = 1e-10, initial_accumulator_value: float = 0.0,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
    r"""Adagrad: :math:`g \leftarrow g + \lambda p`; :math:`\tilde\gamma = \gamma / (1 + (t-1)\eta)`;
    :math:`s \leftarrow s + g^2` (from ``initial_accumulator_value``);
    :math:`p \leftarrow p - \tilde\gamma g / (\sqrt{s} + \epsilon)`."""
    if t == 1:
        state["sum"] = torch.full_like(p, initial_accumulator_value)
    if weight_decay:
        g = g + weight_decay * p
    state["sum"].addcmul_(g, g, value=1)
    p.addcdiv_(g, state["sum"].sqrt() + eps, value=-lr / (1 + (t - 1) * lr_decay))


#: family (``optim.FAMILIES``' values) -> its one-member reference step
REFERENCE_STEPS = {"sgd": sgd_step, "adam": adam_step, "rmsprop": rmsprop_step, "adagrad": adagrad_step}
