"""The cohort engine: K recipes of one small model trained at once as one batched model.

``train_cohort(configs)`` gives each recipe the run ``tuneforge.train(cfg)`` would give it --
the same initial weights, batches, losses, schedule, optimizer trajectory, early stopping and
summary -- at a fraction of the cost per recipe. ``group_cohorts(configs)`` says which recipes
can share a cohort. See ``docs/cohort.md`` for what is batched, what splits cohorts and what
is guaranteed to be equal.

Example:
    >>> from tuneforge import load_config
    >>> from tuneforge.engine.cohort import train_cohort
    >>> cfgs = [load_config(overrides=["data.source=iris", "train.epochs=3",
    ...                                f"train.optimizer.lr={lr}"]) for lr in (0.001, 0.01)]
    >>> [run.summary["status"] for run in train_cohort(cfgs)]
    ['completed', 'completed']
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn

from tuneforge.config import Config
from tuneforge.data import Dataset, prepare
from tuneforge.engine.cohort.grouping import group_cohorts, structure, unsupported
from tuneforge.engine.cohort.members import Member
from tuneforge.engine.cohort.pool import CohortPool
from tuneforge.engine.cohort.trainer import CohortTrainer
from tuneforge.engine.module import EpochCallback
from tuneforge.errors import ConfigError
from tuneforge.models import build_model
from tuneforge.recipe import Recipe
from tuneforge.run import Run, check_against_data, resolve_device, seed_everything, summarize

__all__ = ["CohortPool", "CohortTrainer", "group_cohorts", "member_model", "member_run",
           "train_cohort", "unsupported"]


def train_cohort(
    configs: Sequence[Config],
    callbacks: Sequence[Sequence[EpochCallback]] | None = None,
    device: torch.device | str | None = None,
    *,
    fold: int | None = None,
    refit: bool = False,
    data: Dataset | None = None,
    compile: bool = False,
) -> list[Run]:
    """Train ``configs`` (one cohort: see :func:`group_cohorts`) together; one ``Run`` each.

    Args:
        configs: recipes with the same structure (data, depth, norm, loss, batch size,
            optimizer family...); activations, learning rates, regularization, schedules, widths, dropout,
            seeds and epochs may differ.
        callbacks: per config, epoch callbacks; each gets that member's epoch record (the
            module engine's) and may return a status (e.g. ``"pruned"``) that makes the member
            leave the cohort while the others go on.
        device: where to train; default ``train.device`` of the first config.
        fold, refit, data: as for ``tuneforge.train``; ``data`` reuses a prepared data set.
        compile: run the objective and the optimizer update through ``torch.compile``. It
            costs seconds once per process (later cohorts of any size reuse it) and saves
            15-25% of a step on CPU; see ``benchmarks/cohort_step.py`` for where it pays.

    Returns:
        ``Run`` objects in the order of ``configs``, with ``summary`` as ``tuneforge.train``
        writes it plus ``summary["cohort"]`` (members, position) and ``path`` None;
        ``wall_time_s`` is the cohort's time from its start until that member left.
    """
    if not configs:
        return []
    _check_cohort(configs, callbacks)
    started = time.perf_counter()
    first = configs[0]
    device = torch.device(device) if device is not None else resolve_device(first.train.device)
    if first.train.deterministic:
        seed_everything(first.train.seed, deterministic=True)
    data = data if data is not None else prepare(first.data, device, fold=fold, refit=refit)
    members = []
    for i, cfg in enumerate(configs):
        check_against_data(cfg, data)
        members.append(
            Member(i, cfg, Recipe.build(cfg.train, data), callbacks[i] if callbacks else ())
        )
    trainer = CohortTrainer(members, data, device, compile=compile)
    runs: list[Run | None] = [None] * len(configs)
    for member, row in trainer.fit():
        runs[member.index] = member_run(trainer, member, row, len(configs), started)
    return runs  # type: ignore[return-value]


def member_run(trainer: CohortTrainer, member: Member, row: int, members: int,
               started: float | None = None) -> Run:  # fmt: skip
    """The ``Run`` of a member that is leaving (at ``row``), as ``tuneforge.train`` returns it.

    ``members`` is reported as ``summary["cohort"]["members"]``; ``wall_time_s`` counts from
    ``started`` (default: when the member joined).
    """
    model = member_model(trainer, row)
    began = member.started if started is None else started
    summary = summarize(member.cfg, trainer.data, member.recipe, model, member.result,
                        time.perf_counter() - began)  # fmt: skip
    summary["cohort"] = {"members": members, "member": member.index}
    return Run(member.cfg, model, trainer.data.encoder, member.history, summary)


def member_model(trainer: CohortTrainer, row: int) -> nn.Module:
    """The member at ``row`` of the cohort as its own ``nn.Module`` (its own widths), eval mode."""
    cfg = trainer.members[row].cfg
    model = build_model(
        cfg.model, trainer.data.n_features, trainer.recipe.n_outputs, seed=cfg.train.seed
    )
    model.load_state_dict(trainer.net.member_state(row))
    return model.to(trainer.device).eval()


def _check_cohort(configs: Sequence[Config], callbacks) -> None:
    for i, cfg in enumerate(configs):
        if (reason := unsupported(cfg)) is not None:
            raise ConfigError(f"cohort member {i}: {reason}")
    keys = {structure(cfg) for cfg in configs}
    if len(keys) > 1:
        raise ConfigError("cohort members differ in structure (data, depth, norm, loss, batch size, "
                          "optimizer family...); split them with group_cohorts")  # fmt: skip
    if callbacks is not None and len(callbacks) != len(configs):
        raise ValueError(
            f"callbacks: expected one list per config ({len(configs)}), got {len(callbacks)}"
        )
