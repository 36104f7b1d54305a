"""Micro-batches: members with different batch sizes (and accumulation) in one cohort.

A batched step needs every member to see the same number of rows, but members may ask for
different batch sizes. The cohort walks the epoch in micro-batches of ``g`` rows, the greatest
common divisor of the members' batch sizes (32 for batch sizes 32/64/128), and each member
follows its own batches inside that walk:

- member k's micro-batch i is rows ``[i·g, (i+1)·g)`` of *its own* epoch order, so its batch j
  (rows ``[j·B, (j+1)·B)``) is micro-batches ``j·B/g ..`` -- the rows it would see alone;
- it weights micro-batch i's mean loss by ``rows in i / rows in its step`` (its batch, or its
  accumulation group of ``accumulate`` batches), so the gradient summed over the micro-batches
  of a step is the gradient of the step's mean loss, the last short batch of an epoch included;
- its optimizer steps only after the last micro-batch of its step (:attr:`MicroPlan.stepping`
  says which members step after each micro-batch), and its epoch's ``train/loss`` is the mean
  of its own batch losses, as the module engine records it.

Batch norm computes statistics over a forward pass, so members with batch norm never split a
batch (``grouping.structure`` keeps their batch size exact; then ``g`` is that batch size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import reduce

import torch
from torch import Tensor

#: ``MicroPlan.stepping[i]`` when every member steps after micro-batch i
ALL = "all"


class MicroPlan:
    """The micro-batches of one epoch and, per member, their weights and step ends.

    Args:
        n_rows: training rows.
        sizes: per member, its batch size in rows (``None`` or ``>= n_rows``: the full set).
        accumulates: per member, ``train.accumulate``.
        device: where the per-member tensors live.
        forms: per member, its loss form ``(train.loss_reduction, train.loss_scale)``;
            default ``("mean", 1.0)`` for all.
    """

    def __init__(self, n_rows: int, sizes: Sequence[int | None], accumulates: Sequence[int],
                 device: torch.device, forms: Sequence[tuple[str, float]] | None = None):  # fmt: skip
        self.n_rows = n_rows
        self.sizes = [n_rows if s is None else min(s, n_rows) for s in sizes]
        self.full = [s == n_rows for s in self.sizes]  # unshuffled, as ``Batches`` does
        # A batch of the whole set ends with the epoch: only smaller batches set the micro size.
        self.micro = reduce(math.gcd, [s for s in self.sizes if s < n_rows] or [n_rows])
        self.rows = [min(self.micro, n_rows - start) for start in range(0, n_rows, self.micro)]
        keys = list(zip(self.sizes, accumulates, forms or [("mean", 1.0)] * len(sizes), strict=True))
        classes = {c: self._walk(*c) for c in dict.fromkeys(keys)}
        per_member = [classes[c] for c in keys]
        # one batch size and accumulation, whose batch is the micro-batch (forms may differ)
        self.trivial = len({c[:2] for c in classes}) == 1 and self.sizes[0] == self.micro

        def stack(name: str, dtype: torch.dtype) -> Tensor:
            return torch.tensor([walk[name] for walk in per_member], dtype=dtype, device=device)

        weights = stack("weight", torch.float32)  # [K, M]
        #: per micro-batch, the ``[K]`` weights of the members' mean losses (None: all 1)
        self.weights = None if bool((weights == 1).all()) else list(weights.t().contiguous())
        self.loss_weights = stack("loss_weight", torch.float32)  # train/loss = Σ_i w·loss_i
        self.step_index = stack("step", torch.long)  # [K, M]: the member's step in this epoch
        self.batch_of = stack("batch", torch.long)  # [K, M]: the member's batch in this epoch
        self.stepping = self._stepping([walk["ends"] for walk in per_member], device)

    def __len__(self) -> int:
        return len(self.rows)

    def _walk(self, size: int, accumulate: int, form: tuple[str, float]) -> dict[str, list]:
        """One member class's view of the micro-batches: weights, step ends, step and batch.

        A micro-batch's weight turns its mean loss into its share of the step's loss: rows here
        / rows in the step for the mean, rows here for the sum (mean × rows), times the scale."""
        reduction, scale = form
        n, out = self.n_rows, {k: [] for k in ("weight", "loss_weight", "step", "batch", "ends")}
        batches, group = -(-n // size), size * accumulate
        for i, rows in enumerate(self.rows):
            start = i * self.micro
            batch, step = start // size, start // group
            batch_rows = min(size, n - batch * size)
            share = rows if reduction == "sum" else rows / min(group, n - step * group)
            out["weight"].append(scale * share)
            out["loss_weight"].append(rows / batch_rows / batches)
            out["step"].append(step)
            out["batch"].append(batch)
            out["ends"].append(i + 1 == len(self.rows) or (start + rows) % group == 0)
        return out

    @staticmethod
    def _stepping(ends: list[list[bool]], device) -> list:
        """Per micro-batch: None (nobody steps), ALL, or ``(rows on device, rows as ints)``."""
        out, cache = [], {}
        for column in zip(*ends, strict=True):
            if all(column):
                out.append(ALL)
            elif not any(column):
                out.append(None)
            else:
                rows = tuple(k for k, ends_here in enumerate(column) if ends_here)
                if rows not in cache:
                    cache[rows] = (torch.tensor(rows, dtype=torch.long, device=device), list(rows))
                out.append(cache[rows])
        return out

    def train_loss(self, losses: Tensor) -> Tensor:
        """``[K]``: each member's mean batch loss from the micro-batch losses ``[K, M]``."""
        if self.trivial:
            return losses.mean(1)
        return (losses * self.loss_weights).sum(1)

    def batch_losses(self, losses: Tensor, k: int) -> Tensor:
        """Member k's loss per batch of its own (``[its batches]``), from ``losses [K, M]``."""
        if self.trivial:
            return losses[k]
        batches = -(-self.n_rows // self.sizes[k])
        share = self.loss_weights[k] * batches  # rows in the micro-batch / rows in its batch
        return losses.new_zeros(batches).index_add_(0, self.batch_of[k], losses[k] * share)
