"""Losses by name. Each returns one value per sample, so both engines reduce it the same way.

``pred`` has shape ``[..., n, outputs]`` and ``y`` shape ``[..., n]`` (leading dims are cohort
members); single-output losses read ``pred[..., 0]``. With several regression targets ``y`` is
``[..., n, targets]`` like ``pred``, and a sample's loss is the mean over its targets (so the
mean over samples is the mean over every value, as scikit-learn's multi-output MSE). ``reduction="mean"`` averages over every
element in torch's fused kernel: the module engine's training loss for one model, where a
per-sample vector and a separate mean would cost two more ops (and backward nodes) per step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from tuneforge.config.schema import TrainConfig
from tuneforge.errors import ConfigError
from tuneforge.usercode import describe, is_spec, load

Loss = Callable[..., torch.Tensor]


def _per_value(fn: Callable, pred: torch.Tensor, y: torch.Tensor, reduction: str, **kw) -> torch.Tensor:
    """``fn`` (a torch elementwise loss) on one output, or on several targets (one per output)."""
    if pred.shape[-1] == 1:
        out = pred[..., 0]
        return fn(out, y.expand_as(out), reduction=reduction, **kw)
    if reduction == "mean":  # the mean over samples of their means over targets, fused
        return fn(pred, y.expand_as(pred), reduction="mean", **kw)
    per_sample = fn(pred, y.expand_as(pred), reduction="none", **kw).mean(-1)
    return per_sample.sum() if reduction == "sum" else per_sample


def mse(pred: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Squared error (yᵢ − ŷᵢ)²; its mean is the MSE."""
    return _per_value(F.mse_loss, pred, y, reduction)


def mae(pred: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Absolute error |yᵢ − ŷᵢ|."""
    return _per_value(F.l1_loss, pred, y, reduction)


def huber(
    pred: torch.Tensor, y: torch.Tensor, delta: float = 1.0, reduction: str = "none"
) -> torch.Tensor:
    """½r² for |r| ≤ δ, else δ(|r| − ½δ), with r = yᵢ − ŷᵢ."""
    return _per_value(F.huber_loss, pred, y, reduction, delta=delta)


def cross_entropy(
    pred: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "none"
) -> torch.Tensor:
    """−Σ pᵢ log qᵢ with q = softmax(pred) and p the (optionally smoothed) one-hot target."""
    if pred.dim() == 2:  # one model: no member dims to flatten
        return F.cross_entropy(pred, y, reduction=reduction, label_smoothing=label_smoothing)
    target = y.expand(pred.shape[:-1])
    flat = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1),
                           reduction=reduction, label_smoothing=label_smoothing)  # fmt: skip
    return flat if reduction == "mean" else flat.view(target.shape)


def member_smoothed_cross_entropy(
    pred: torch.Tensor, y: torch.Tensor, smoothing: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy with one label-smoothing ε per cohort member (``smoothing`` is ``[K]``).

    The same value as :func:`cross_entropy` (torch's rule): (1 − ε)·(−log q_y) + ε·mean_c(−log q_c),
    computed as −Σ_c p_c log q_c with the smoothed target p = ε/C + (1 − ε)·[c = y]: half the
    kernels of the two terms apart, forward and backward (a cohort step of 3 members: ~220 ->
    ~160 µs for the loss, one-off timing), which the default study's ~4,700 steps each pay.
    """
    logq = pred.log_softmax(-1)
    eps = smoothing.to(pred.dtype).view(-1, *([1] * (pred.ndim - 1)))
    classes = pred.shape[-1]
    target = (eps / classes).expand(pred.shape).clone()
    hit = y.expand(pred.shape[:-1]).unsqueeze(-1)
    target.scatter_add_(-1, hit, (1 - eps).expand(*pred.shape[:-1], 1))
    return -(logq * target).sum(-1)


def bce(pred: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """−[y log σ(ŷ) + (1 − y) log(1 − σ(ŷ))] on logits (numerically stable form)."""
    logits = pred[..., 0]
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype).expand_as(logits),
                                              reduction=reduction)  # fmt: skip


LOSSES: dict[str, Loss] = {
    "mse": mse,
    "mae": mae,
    "huber": huber,
    "cross_entropy": cross_entropy,
    "bce": bce,
}


def default_loss(task: str) -> str:
    return "cross_entropy" if task == "classification" else "mse"


def make_loss(cfg: TrainConfig, task: str) -> Loss:
    name = cfg.loss or default_loss(task)
    if is_spec(name):
        return partial(user_loss, load(name, "train.loss"))
    if name == "huber":
        return partial(huber, delta=cfg.huber_delta)
    if name == "cross_entropy":
        return partial(cross_entropy, label_smoothing=cfg.label_smoothing)
    return LOSSES[name]


def n_outputs(loss: str, n_classes: int | None, n_targets: int = 0) -> int:
    """Model outputs a loss needs: one logit per class for cross-entropy (and a user loss on
    classes), one per target for several regression targets (``n_targets``), else one."""
    if loss == "cross_entropy" or (is_spec(loss) and n_classes is not None):
        return n_classes
    return max(1, n_targets)


def user_loss(fn: Callable, pred: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """A ``train.loss: module:function`` as the engines call losses.

    ``fn(pred [n, outputs], y [n]) -> [n]`` per-sample losses; cohort members (leading dims of
    ``pred``) are flattened into rows and back, which is exact because each row's loss depends
    on that row only. The reduction is ours, so every engine and reduction keeps working.
    """
    target = y.expand(pred.shape[:-1])
    per_sample = fn(pred.reshape(-1, pred.shape[-1]), target.reshape(-1)).view(target.shape)
    if reduction == "mean":
        return per_sample.mean()
    return per_sample.sum() if reduction == "sum" else per_sample


def check_user_loss(spec: str, loss: Loss, n_outputs: int, y: torch.Tensor) -> None:
    """Call the user's loss on a few rows before the first step: it must give one finite-typed
    value per row (shape ``[rows]``), or fail here as one line naming it."""
    name = describe(spec)
    y = y[:3]
    pred = torch.zeros(len(y), n_outputs, requires_grad=True)
    try:
        out = loss.args[0](pred, y)  # the function itself, before our reshaping
    except Exception as exc:  # the user's code
        raise ConfigError(f"train.loss: {name}(pred [{len(y)}, {n_outputs}], y [{len(y)}]) raised "
                          f"{type(exc).__name__}: {exc}") from None  # fmt: skip
    if not isinstance(out, torch.Tensor) or list(out.shape) != [len(y)]:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"train.loss: {name}: expected per-sample losses of shape [{len(y)}] for "
                          f"{len(y)} rows (no reduction), got {got}")  # fmt: skip
    if not out.is_floating_point() or not out.requires_grad:
        raise ConfigError(f"train.loss: {name}: expected a floating-point loss computed from pred "
                          "(differentiable), got one without a gradient")  # fmt: skip
