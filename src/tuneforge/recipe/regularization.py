r"""L1/L2 penalties and the proximal L1 step.

tuneforge's penalties are added to the mean data loss J₁ exactly as written, without a ½:

    J(θ) = J₁(θ) + λ₁ Σ|θᵢ| + λ₂ Σθᵢ²

over the *penalized* parameters: every parameter with two or more dimensions (weight matrices,
convolution kernels). Biases and normalization scales are left out unless ``include_bias`` is
set. With J₁ the MSE over n rows, scikit-learn's ``Ridge(alpha=n·λ₂)`` and ``Lasso(alpha=λ₁/2)``
solve the same problem, and ``LogisticRegression(C=1/(2·n·λ₂))`` for cross-entropy.

``l1_mode: proximal`` applies L1 as a soft-threshold after each optimizer step instead,
θ ← sign(θ)·max(|θ| − α·λ₁, 0), which produces exact zeros (ISTA for plain gradient descent).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def penalized_parameters(model: nn.Module, include_bias: bool = False) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad and (include_bias or p.ndim >= 2)]


def penalty(
    params: Iterable[torch.Tensor], l1: float | torch.Tensor, l2: float | torch.Tensor,
    member_dims: int = 0,
) -> torch.Tensor | float:  # fmt: skip
    """λ₁ Σ|θ| + λ₂ Σθ², summed over all but the first ``member_dims`` dims of each tensor."""
    total: torch.Tensor | float = 0.0
    for p in params:
        dims = tuple(range(member_dims, p.ndim))
        if _nonzero(l1):
            total = total + l1 * p.abs().sum(dims)
        if _nonzero(l2):
            total = total + l2 * p.square().sum(dims)
    return total


@torch.no_grad()
def add_penalty_grad_(
    grad: torch.Tensor, param: torch.Tensor, l1: torch.Tensor | None, l2: torch.Tensor | None
) -> None:
    """In place: ``grad += ∂penalty/∂θ = λ₁·sign(θ) + 2·λ₂·θ`` (λ broadcast against θ).

    The gradient :func:`penalty` gives through autograd, in one or two passes instead of the
    forward and backward of the penalty's graph. The cohort engine uses it: with λ per member
    and per entry (zero where an entry is not penalized) it is one ``addcmul`` over all members.
    """
    if l2 is not None:
        grad.addcmul_(param, l2, value=2)
    if l1 is not None:
        grad.addcmul_(param.sign(), l1)


@torch.no_grad()
def soft_threshold_(params: Iterable[torch.Tensor], threshold: float | torch.Tensor) -> None:
    """In place: θ ← sign(θ)·max(|θ| − threshold, 0)."""
    for p in params:
        p.copy_(p.sign() * (p.abs() - threshold).clamp_min(0))


def _nonzero(value: float | torch.Tensor) -> bool:
    return isinstance(value, torch.Tensor) or value != 0
