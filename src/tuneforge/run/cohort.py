"""Runs of cohort members: K recipes trained at once, each ending as the ``Run`` it would get alone.

``train_cohort(configs)`` gives each recipe the run ``tuneforge.train(cfg)`` would give it --
the same initial weights, batches, losses, schedule, optimizer trajectory, early stopping and
summary -- at a fraction of the cost per recipe (the batched model is
:class:`~tuneforge.engine.cohort.CohortTrainer`; ``group_cohorts(configs)`` says which recipes
can share a cohort). See ``docs/cohort.md`` for what is batched, what splits cohorts and what
is guaranteed to be equal.

Rolling cohorts (:class:`CohortPool`): the trials of a study do not end together: successive
halving stops most of them after an epoch or three while a few run all their epochs, so a cohort
that only trained the trials it began with would spend its last epochs on one or two members.
The pool keeps one cohort per structure and width band (``structure(cfg, by_width=True)``, laid
out at the band's top widths) and lets new recipes join between epochs, so the batched model
stays full while trials come and go. Every member still gets the run ``tuneforge.train`` would
give it alone (it counts its own epochs, steps and batch order). ``tune.refill`` trains studies
this way; on the digits study it saved ~7% of the search time but found slightly worse recipes,
so it is opt-in (``docs/tuning.md``).

Example:
    >>> from tuneforge import load_config
    >>> from tuneforge.data import prepare
    >>> cfgs = [load_config(overrides=["data.source=iris", "train.epochs=3",
    ...                                f"train.optimizer.lr={lr}"]) for lr in (0.001, 0.01)]
    >>> [run.summary["status"] for run in train_cohort(cfgs)]
    ['completed', 'completed']
    >>> cfgs = [load_config(overrides=["data.source=iris", f"train.epochs={e}"]) for e in (1, 2)]
    >>> pool, data = CohortPool(), prepare(cfgs[0].data)
    >>> pool.join(cfgs[0], [], data, tag="a")
    >>> [tag for tag, run in pool.epoch().left]   # "a" trained its one epoch
    ['a']
    >>> pool.join(cfgs[1], [], data, tag="b")
    >>> len(pool), [tag for tag, run in pool.epoch().left + pool.epoch().left]
    (1, ['b'])
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from tuneforge.config import Config
from tuneforge.data import Dataset, prepare
from tuneforge.engine.cohort import CohortTrainer, Member, band_capacity, structure, unsupported
from tuneforge.engine.module import EpochCallback
from tuneforge.engine.setup import resolve_device, seed_everything
from tuneforge.errors import ConfigError
from tuneforge.models import build_model
from tuneforge.recipe import Recipe
from tuneforge.recipe.budget import with_budget
from tuneforge.run.checks import check_recipe
from tuneforge.run.folder import Run
from tuneforge.run.summary import summarize
from tuneforge.run.training import with_inferred

__all__ = ["CohortPool", "EpochOutcome", "member_model", "member_run", "train_cohort"]


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
    data = data.to(device) if data is not None else prepare(first.data, device, fold=fold, refit=refit)
    members = []
    for i, cfg in enumerate(configs):
        cfg = with_budget(cfg, data)
        check_recipe(cfg, data)
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
    cfg = with_inferred(member.cfg, trainer.data, member.recipe)  # as train() records it
    return Run(cfg, model, trainer.data.encoder, member.history, summary)


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


@dataclass
class EpochOutcome:
    """What one :meth:`CohortPool.epoch` ended: runs of members that left, tags of failed ones."""

    left: list[tuple[Hashable, Run]] = field(default_factory=list)
    failed: list[Hashable] = field(default_factory=list)  # their cohort raised; retry them alone
    error: Exception | None = None  # the last such error


class CohortPool:
    """Cohorts that recipes join between epochs and leave when they are done."""

    def __init__(self, compile: bool = False):
        self.compile = compile
        self.cohorts: dict[str, CohortTrainer] = {}
        self.waiting: dict[str, list[tuple[Member, Dataset]]] = {}  # join at the next epoch
        self.tags: dict[int, Hashable] = {}  # id(member) -> the caller's tag

    def __len__(self) -> int:
        """Members training or about to join."""
        return sum(len(t.members) for t in self.cohorts.values()) + sum(map(len, self.waiting.values()))

    def join(self, cfg: Config, callbacks: Sequence[EpochCallback], data: Dataset,
             tag: Hashable) -> None:  # fmt: skip
        """``cfg`` (trained on ``data``) joins its cohort at the next :meth:`epoch`; its run
        comes back under ``tag``. ``callbacks`` as for ``train_cohort``."""
        if (reason := unsupported(cfg)) is not None:
            raise ConfigError(reason)
        cfg = with_budget(cfg, data)
        check_recipe(cfg, data)
        member = Member(len(self.tags), cfg, Recipe.build(cfg.train, data), callbacks)
        self.tags[id(member)] = tag
        self.waiting.setdefault(structure(cfg, by_width=True), []).append((member, data))

    def epoch(self) -> EpochOutcome:
        """Newcomers join, then every cohort trains one epoch; who left, who failed."""
        out, waiting = EpochOutcome(), self.waiting
        self.waiting = {}
        for key in dict.fromkeys([*self.cohorts, *waiting]):
            new = [member for member, _ in waiting.get(key, [])]
            trainer = self.cohorts.get(key)
            try:
                if trainer is None:
                    trainer = self.cohorts[key] = self._start(new, waiting[key][0][1])
                elif new:
                    trainer.add(new)
                started = time.perf_counter()
                losses = trainer.train_epoch()
                for member, row in trainer.end_epoch(losses, time.perf_counter() - started):
                    run = member_run(trainer, member, row, members=len(trainer.members))
                    out.left.append((self.tags.pop(id(member)), run))
            except Exception as exc:  # the cohort is lost; its members can train alone
                out.error = exc
                members = (trainer.members if trainer is not None else []) + new
                out.failed += [self.tags.pop(id(m)) for m in members if id(m) in self.tags]
                self.cohorts.pop(key, None)
                continue
            if not trainer.members:
                del self.cohorts[key]
        return out

    def _start(self, members: list[Member], data: Dataset) -> CohortTrainer:
        first = members[0].cfg
        if first.train.deterministic:
            seed_everything(first.train.seed, deterministic=True)
        device = resolve_device(first.train.device)
        return CohortTrainer(members, data.to(device), device, self.compile,
                             capacity=band_capacity(first))  # fmt: skip
