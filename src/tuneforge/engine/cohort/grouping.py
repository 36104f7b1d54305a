"""Which recipes can train together: the structure a cohort cannot batch, as a hashable key.

Batched per member (never split): learning rate, batch size within a class (sizes that differ
by a power of two, see :func:`batch_class`), ``accumulate``, schedule (any name and parameters:
a schedule is a row of learning-rate multipliers), optimizer hyperparameters within a family
(Adam and AdamW are one family), weight decay, L1/L2 and their mode, gradient clipping, dropout,
init scheme and seed, activation, label smoothing, loss form (``loss_reduction``, ``loss_scale``:
a micro-batch weight), hidden widths (masked to the widest), epochs (a member leaves when its
own epochs are done), early stopping. Split: everything in :func:`structure`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from tuneforge.config import Config
from tuneforge.engine.cohort.optim import FAMILIES

#: model kinds the cohort engine batches (others train with the module engine)
KINDS = ("linear", "logistic", "mlp", "custom")  # custom: through torch.func (functional.py)


def unsupported(cfg: Config) -> str | None:
    """Why ``cfg`` cannot train in a cohort, or None when it can."""
    if cfg.model.kind not in KINDS:
        return f"model.kind {cfg.model.kind!r} is not batched (cohorts support {', '.join(KINDS)})"
    if cfg.train.precision != "fp32":
        return f"train.precision {cfg.train.precision} is not batched (cohorts train in fp32)"
    if cfg.train.augment is not None:
        return "train.augment is not batched (cohorts train on the rows as they are)"
    if cfg.train.max_steps is not None and cfg.train.batch_size != "full":
        return ("train.max_steps with mini-batches is not batched (it may end an epoch mid-way; "
                "cohorts step whole epochs; with batch_size: full it is)")  # fmt: skip
    return None


def structure(cfg: Config, by_width: bool = False) -> str:
    """Members with equal keys can share a cohort (same data, layers, loss, batches, family).

    ``by_width`` adds each hidden layer's width band (``⌈log₂ width⌉``), so members padded to
    a common width differ by less than 2× per layer.
    """
    model, train = cfg.model, cfg.train
    key = {
        "data": cfg.data.model_dump(mode="json"),
        "kind": model.kind,
        "depth": len(getattr(model, "hidden", [])),
        "norm": getattr(model, "norm", None),
        "bias": getattr(model, "bias", True),  # a bias-free head has one piece fewer
        "loss": [train.loss, train.huber_delta],  # label smoothing is per member
        "batches": batch_class(cfg),
        "optimizer": FAMILIES[train.optimizer.name],
        "device": train.device,
        "deterministic": train.deterministic,
    }
    if model.kind == "custom":  # shapes follow the factory's args: only equal args batch
        key["factory"] = [model.factory, model.args]
    if by_width:
        key["width_bands"] = [math.ceil(math.log2(w)) for w in getattr(model, "hidden", [])]
    return json.dumps(key, sort_keys=True)


def batch_class(cfg: Config) -> int | str:
    """Batch sizes that can share a cohort: those that differ by a power of two (32, 64, 128).

    A cohort walks the epoch in micro-batches of the members' greatest common batch size and
    each member accumulates its own batch over them (``micro.py``); within one class that
    micro-batch is the smallest member's batch, so nobody takes more, smaller steps than it
    would alone need. The class is the batch size's odd part (``96 = 3·2⁵`` -> 3). Batch norm
    takes statistics over a forward pass, so its batches stay whole: the exact size.
    """
    size = cfg.train.batch_size
    if size == "full" or getattr(cfg.model, "norm", None) == "batch":
        return size
    return size // (size & -size)


def band_capacity(cfg: Config) -> Config | None:
    """``cfg`` at the top of its width bands (each hidden width rounded up to a power of two):
    the widths a cohort of its ``structure(cfg, by_width=True)`` lays out, so any member of
    those bands can join it. None for kinds without hidden layers."""
    hidden = getattr(cfg.model, "hidden", None)
    if not hidden:
        return None
    tops = [2 ** math.ceil(math.log2(w)) for w in hidden]
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"hidden": tops})})


def group_cohorts(
    configs: Sequence[Config], max_members: int = 16, by_width: bool = False
) -> list[list[int]]:
    """Split ``configs`` into cohorts of compatible recipes, at most ``max_members`` each.

    A cohort computes every member at the widest member's widths; with ``by_width`` members
    whose hidden widths differ by 2× or more go to different cohorts, except that a band's
    only member joins the nearest band of its structure (it would otherwise train alone). That trades fewer members
    per cohort for less padding: 16 digits MLPs of widths 128/256/512 trained 1.5× faster as
    three cohorts than as one (``docs/cohort.md``); with few members per structure, one cohort
    is faster.

    Returns lists of positions in ``configs``, in order of first appearance. A recipe the
    cohort engine cannot train (see :func:`unsupported`) is a group of its own, for the module
    engine.

    Example:
        >>> from tuneforge import load_config
        >>> a = load_config(overrides=["train.optimizer.lr=0.01"])
        >>> b = load_config(overrides=["train.optimizer.lr=0.1", "model.hidden=[32, 16]"])
        >>> c = load_config(overrides=["model.norm=layer"])
        >>> group_cohorts([a, b, c])
        [[0, 1], [2]]
    """
    if max_members < 1:
        raise ValueError(f"max_members must be at least 1, got {max_members}")
    groups: dict[str, list[list[int]]] = {}
    order: list[list[int]] = []
    for i, cfg in enumerate(configs):
        if unsupported(cfg):
            order.append([i])
            continue
        open_groups = groups.setdefault(structure(cfg, by_width), [])
        if not open_groups or len(open_groups[-1]) >= max_members:
            open_groups.append([])
            order.append(open_groups[-1])
        open_groups[-1].append(i)
    if by_width:
        _join_lone_members(order, configs, max_members)
    return [group for group in order if group]


def _join_lone_members(order: list[list[int]], configs: Sequence[Config], max_members: int) -> None:
    """A width band's only member joins the nearest band of its structure that has room: alone
    it would train by itself (a whole model's cost per step for one trial), where in a cohort
    padding costs a fraction of that. Groups it leaves are emptied in place."""
    def bands(i: int) -> list[int]:
        return [math.ceil(math.log2(w)) for w in getattr(configs[i].model, "hidden", [])]

    for lone in [g for g in order if len(g) == 1 and not unsupported(configs[g[0]])]:
        i, key = lone[0], structure(configs[lone[0]])
        others = [g for g in order if g and g is not lone and len(g) < max_members
                  and not unsupported(configs[g[0]]) and structure(configs[g[0]]) == key]  # fmt: skip
        if others:
            near = min(others, key=lambda g: sum(abs(a - b) for a, b in zip(bands(g[0]), bands(i), strict=True)))
            near.append(i)
            near.sort()
            lone.clear()
