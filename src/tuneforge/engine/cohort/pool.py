"""Rolling cohorts: recipes join as others leave, each in the cohort of its structure.

The trials of a study do not end together: successive halving stops most of them after an epoch
or three while a few run all their epochs, so a cohort that only trained the trials it began
with would spend its last epochs on one or two members. :class:`CohortPool` keeps one cohort per
structure and width band (``structure(cfg, by_width=True)``, laid out at the band's top widths)
and lets new recipes join between epochs, so the batched model stays full while trials come and
go. Every member still gets the run ``tuneforge.train`` would give it alone (it counts its own
epochs, steps and batch order: :class:`~tuneforge.engine.cohort.trainer.CohortTrainer`).
``tune.refill`` trains studies this way; on the digits study it saved ~7% of the search time
but found slightly worse recipes, so it is opt-in (``docs/tuning.md``).

Example:
    >>> from tuneforge import load_config
    >>> from tuneforge.data import prepare
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

from tuneforge.config import Config
from tuneforge.data import Dataset
from tuneforge.engine.cohort.grouping import band_capacity, structure, unsupported
from tuneforge.engine.cohort.members import Member
from tuneforge.engine.cohort.trainer import CohortTrainer
from tuneforge.engine.module import EpochCallback
from tuneforge.errors import ConfigError
from tuneforge.recipe import Recipe
from tuneforge.run import Run, check_against_data, resolve_device, seed_everything


@dataclass
class Epoch:
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
        check_against_data(cfg, data)
        member = Member(len(self.tags), cfg, Recipe.build(cfg.train, data), callbacks)
        self.tags[id(member)] = tag
        self.waiting.setdefault(structure(cfg, by_width=True), []).append((member, data))

    def epoch(self) -> Epoch:
        """Newcomers join, then every cohort trains one epoch; who left, who failed."""
        from tuneforge.engine.cohort import member_run

        out, waiting = Epoch(), self.waiting
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
        return CohortTrainer(members, data, device, self.compile, capacity=band_capacity(first))


__all__ = ["CohortPool", "Epoch"]
