"""Executors: train a batch of trials and say how each ended.

The runner hands an executor a list of up to ``executor.batch_size`` :class:`TrialJob` (an
Optuna trial and its validated recipe) and gets one :class:`TrialOutcome` per job back. :class:`ModuleExecutor` trains them one
after another with ``tuneforge.run.train``; a cohort executor can train the same batch as one
batched model, as long as it reports through :class:`~tuneforge.tuning.seeds.SeedMean` and
returns the same outcomes. With ``tune.seeds: N`` a trial is N runs (one per training seed) and
its outcome their mean (``tuneforge.tuning.seeds``).

Outcomes: completed and early-stopped runs are COMPLETE; pruned runs are PRUNED; a run whose loss
became NaN/Inf (or whose objective is NaN) is PRUNED with the reason ``diverged ...`` in its
``reason`` user attribute: a diverging recipe is a finding about the space (too high a learning
rate), so it counts as a finished trial and tells the sampler that region is bad, where Optuna's
default (FAIL) would make samplers ignore it. Any other exception is FAIL with its message.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import TrialState

from tuneforge.config import Config, to_dict
from tuneforge.data import Dataset, prepare
from tuneforge.recipe.budget import epochs_for
from tuneforge.run.seeds import with_seed
from tuneforge.tuning.objective import Objective
from tuneforge.tuning.seeds import SeedMean, combine
from tuneforge.tuning.trials import TrialJob, TrialOutcome

#: User attributes of a trial trained by a cohort executor: ``cohort`` or ``alone`` (module
#: engine), and for ``alone`` the reason it could not train in a cohort.
ENGINE_ATTR, FALLBACK_ATTR = "tuneforge:engine", "tuneforge:fallback"
logger = logging.getLogger("tuneforge.tuning")




class ModuleExecutor:
    """Trains each trial alone with the module engine; data sets are made once and shared.

    The executor protocol: ``batch_size`` (how many trials the runner hands over at once) and
    ``__call__(jobs) -> outcomes``, one :class:`TrialOutcome` per job, in order.
    """

    batch_size = 1

    def __init__(self, objectives: Sequence[Objective], cv: int | None,
                 decides_at: Callable[[int], bool], seeds: int = 1):  # fmt: skip
        self.objectives = list(objectives)
        self.cv = cv
        # Pruners act on single-objective studies only (Optuna refuses report() otherwise).
        self.metric = objectives[0].epoch_metric if len(objectives) == 1 else None
        self.decides_at = decides_at
        self.seeds = seeds  # tune.seeds: training seeds per trial
        self._data: dict[tuple, Dataset] = {}

    def __call__(self, jobs: Sequence[TrialJob]) -> list[TrialOutcome]:
        return [self.run(job) for job in jobs]

    def run(self, job: TrialJob) -> TrialOutcome:
        """Train the trial's folds (``tune.cv``) and, in each, its seeds one after another."""
        from tuneforge.run import train  # run imports the engine; keep tune's import light

        try:
            seeds = seeds_of(job.config, self.seeds)
            summaries: list[list[dict]] = [[] for _ in seeds]
            first = None  # the first seed's holdout run (the study's best run, if best)
            for f, fold in enumerate(range(self.cv) if self.cv else [None]):
                reporter = self.reporter(job, f)
                for i, seed in enumerate(seeds):
                    reporter.start(i)
                    run = train(with_seed(job.config, seed), callbacks=[reporter.callback(i)],
                                fold=fold, data=self.data(job.config, fold))  # fmt: skip
                    reporter.leave(i)
                    summaries[i].append(run.summary)
                    first = run if i == 0 and self.cv is None else first
                    if run.summary["status"] in STOPPED:
                        break
                reporter.flush()
                if stopped(summaries):
                    break
            result = self.outcome(job, summaries, reporter)
            result.run = first
            return result
        except Exception as exc:  # one bad trial never stops the study
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            return TrialOutcome(TrialState.FAIL, None, {"status": "failed", "reason": reason})

    def reporter(self, job: TrialJob, fold_index: int) -> SeedMean:
        """Reports fold ``fold_index``'s epochs (mean over seeds) to the trial, for pruning."""
        offset = fold_index * self._epochs_per_fold(job.config) if fold_index else 0
        return SeedMean(job.trial, self.metric, self.decides_at, self.seeds, offset)

    def _epochs_per_fold(self, cfg: Config) -> int:
        """The most epochs any fold trains (``epochs: auto`` counts them from each fold's rows),
        so fold k's epochs are reported at steps of their own."""
        return max(epochs_for(cfg.train, self.data(cfg, fold).size("train")) for fold in range(self.cv))

    def outcome(self, job: TrialJob, summaries: list[list[dict]], reporter: SeedMean) -> TrialOutcome:
        """The trial's outcome from its runs: ``summaries[seed][fold]``."""
        ran = [s for s in summaries if s]  # seeds after a pruned or diverged one never ran
        outcomes = [outcome(s, self.objectives, job.config, reporter) for s in ran]
        if self.seeds == 1:
            return outcomes[0]
        seeds = seeds_of(job.config, self.seeds)[: len(ran)]
        return combine(outcomes, seeds, [o.metric for o in self.objectives])

    def data(self, cfg: Config, fold: int | None) -> Dataset:
        """The prepared data for ``cfg.data`` (and fold), made on first use."""
        from tuneforge.engine.setup import resolve_device

        key = _data_key(cfg, fold)
        if key not in self._data:
            if len(self._data) > 16:  # a space over data.* keys: keep memory bounded
                self._data.clear()
            self._data[key] = prepare(cfg.data, resolve_device(cfg.train.device), fold=fold)
        return self._data[key]

    def share(self, cfg: Config, data: Dataset) -> None:
        """Reuse the holdout data already made for ``cfg`` (the study's plan made it)."""
        self._data[_data_key(cfg, None)] = data


def _data_key(cfg: Config, fold: int | None) -> tuple:
    return cfg.data.model_dump_json(), fold, cfg.train.device


#: Run statuses after which a trial trains no more folds or seeds.
STOPPED = ("pruned", "diverged")


def stopped(summaries: list[list[dict]]) -> bool:
    return any(s and s[-1]["status"] in STOPPED for s in summaries)


def seeds_of(cfg: Config, n: int) -> list[int]:
    """``tune.seeds``: a trial trains under ``train.seed + 0 .. n-1``."""
    return [cfg.train.seed + i for i in range(n)]


def outcome(summaries: list[dict], objectives: list[Objective], cfg: Config,
            reporter: SeedMean | None) -> TrialOutcome:  # fmt: skip
    """How a trial ended, from its run summaries (one, or one per fold)."""
    last = summaries[-1]
    metrics = {k: v for k, v in last["metrics"].items() if not k.startswith("test/") and v is not None}
    attrs = {"status": last["status"], "metrics": metrics, "parameters": last["parameters"],
             "epochs": last["epochs"], "best_epoch": last["best_epoch"], "config": to_dict(cfg)}  # fmt: skip
    if last.get("fallbacks"):  # a private torch/Optuna API was missing: the slower public path ran
        attrs["fallbacks"] = last["fallbacks"]
    if last["status"] == "diverged":
        warning = next((w for w in last["warnings"] if w.startswith("diverged")), "diverged: NaN loss")
        attrs["reason"] = warning
        return TrialOutcome(TrialState.PRUNED, None, attrs)
    if last["status"] == "pruned":
        step = reporter.pruned_at if reporter else None
        attrs["reason"] = f"pruned at step {step}" if step is not None else "pruned"
        return TrialOutcome(TrialState.PRUNED, None, attrs)
    values = [objective.value(summaries) for objective in objectives]
    if not all(math.isfinite(v) for v in values):
        attrs["status"], attrs["reason"] = "diverged", f"diverged: objective is {values}"
        return TrialOutcome(TrialState.PRUNED, None, attrs)
    if len(summaries) > 1:  # k-fold: keep the mean of every fold metric
        keys = [k for k in metrics if all(k in s["metrics"] for s in summaries)]
        attrs["metrics"] = {f"cv/{k.removeprefix('val/')}" if k.startswith("val/") else k:
                            statistics.fmean(s["metrics"][k] for s in summaries)
                            for k in keys}  # fmt: skip
    return TrialOutcome(TrialState.COMPLETE, values, attrs)


@dataclass
class _Streamed:
    """A trial training in the rolling cohorts: its job, reporter and runs so far."""

    job: TrialJob
    reporter: SeedMean
    summaries: list[list[dict]]  # [seed][fold]: one fold (streams train holdout studies)
    first: Any = None  # the first seed's run


class CohortExecutor(ModuleExecutor):
    """Trains trials as cohorts: batched models of compatible recipes.

    By default, and always for k-fold studies (``tune.cv``), trials go in batches
    (:meth:`__call__`): the runner hands over up to ``batch_size`` trials,
    :func:`~tuneforge.engine.cohort.group_cohorts` splits them by structure (depth, norm, batch
    size, optimizer family, loss..., width band), and each group trains as one cohort per fold.
    With ``refill`` (``tune.refill``) holdout studies stream instead (:meth:`stream`): up to
    ``batch_size`` trials train at once in rolling cohorts
    (:class:`~tuneforge.engine.cohort.CohortPool`); whenever trials leave (pruned, finished) the
    runner is asked for more, which join between epochs, and each trial is told as soon as it
    ends. TPE's constant liar keeps the proposals of running trials apart. Either way a member
    reports, gets pruned and finishes on its own. With ``tune.seeds: N`` each trial is N members (one per training seed), so
    ``size`` (``tune.cohort``) counts members: ``size // N`` trials at once, and at least one
    trial, whose seeds never split. A recipe the cohort engine cannot batch, or a cohort that
    fails as a whole, falls back to the module engine trial by trial, so a cohort never costs a
    trial its result.
    """

    def __init__(self, objectives: Sequence[Objective], cv: int | None,
                 decides_at: Callable[[int], bool], size: int, compile: bool = False,
                 seeds: int = 1, refill: bool = False,
                 log: Callable[[str], None] = logger.warning):  # fmt: skip
        super().__init__(objectives, cv, decides_at, seeds)
        self.batch_size, self.compile, self.refill = max(1, size // seeds), compile, refill
        self.log = log  # the runner's: warnings the CLI shows on the console
        self.fallbacks: dict[str, int] = {}  # reason -> trials that trained alone for it

    def alone(self, job: TrialJob, why: str) -> TrialOutcome:
        """Train ``job`` with the module engine because ``why``: recorded in the trial's user
        attributes, and warned about once per reason (a fallback from the fast path is never
        silent)."""
        if why not in self.fallbacks:
            self.log(f"trials train alone (module engine), not in a cohort: {why} "
                     f"(user attribute {FALLBACK_ATTR})")  # fmt: skip
        self.fallbacks[why] = self.fallbacks.get(why, 0) + 1
        outcome = self.run(job)
        outcome.attrs |= {ENGINE_ATTR: "alone", FALLBACK_ATTR: why}
        return outcome

    @property
    def streams(self) -> bool:
        """Whether the runner should call :meth:`stream` (refill, holdout) or hand batches."""
        return self.refill and self.cv is None

    def stream(self, ask: Callable[[int], list[TrialJob]],
               tell: Callable[[TrialJob, TrialOutcome], None]) -> None:  # fmt: skip
        """Keep up to ``batch_size`` trials training: ``ask(n)`` gives up to ``n`` new trials
        whenever places are free, ``tell`` gets each trial's outcome as soon as it ends. Returns
        once nothing is training and ``ask`` gives nothing more."""
        from tuneforge.run.cohort import CohortPool

        pool, trials = CohortPool(self.compile), {}
        while True:
            room = self.batch_size - len(trials)
            for job in ask(room) if room > 0 else []:
                if (why := self._enter(pool, job, trials)) is not None:
                    tell(job, self.alone(job, why))  # the cohort engine can't take it
            if not trials:
                return
            done = pool.epoch()
            for number in dict.fromkeys(number for number, _ in done.failed):
                if (entry := trials.pop(number, None)) is not None:
                    tell(entry.job, self.alone(entry.job, cohort_failed(done.error)))
            for (number, seed), run in done.left:
                if (entry := trials.get(number)) is None:
                    continue
                entry.summaries[seed].append(run.summary)
                entry.first = run if seed == 0 else entry.first
                entry.reporter.leave(seed)
                if all(entry.summaries):
                    del trials[number]
                    entry.reporter.flush()
                    outcome = self.outcome(entry.job, entry.summaries, entry.reporter)
                    outcome.attrs[ENGINE_ATTR], outcome.run = "cohort", entry.first
                    tell(entry.job, outcome)

    def _enter(self, pool, job: TrialJob, trials: dict[int, _Streamed]) -> str | None:
        """Put the trial's seeds in the pool; why not, when the cohort engine cannot train it."""
        from tuneforge.engine.cohort import unsupported

        if (why := unsupported(job.config)) is not None:
            return why
        cfgs = [with_seed(job.config, seed) for seed in seeds_of(job.config, self.seeds)]
        reporter = self.reporter(job, 0)
        reporter.start(*range(self.seeds))
        try:
            for i, cfg in enumerate(cfgs):  # seeds differ only in train.seed: all join or none
                pool.join(cfg, [reporter.callback(i)], self.data(cfg, None), (job.trial.number, i))
        except Exception as exc:  # e.g. a loss that does not fit the data: the module engine says why
            return f"the cohort engine refused it ({_message(exc)})"
        trials[job.trial.number] = _Streamed(job, reporter, [[] for _ in cfgs])
        return None

    def __call__(self, jobs: Sequence[TrialJob]) -> list[TrialOutcome]:
        from tuneforge.engine.cohort import group_cohorts, unsupported

        outcomes: list[TrialOutcome | None] = [None] * len(jobs)
        # Width bands: padding a 128-wide member to 512 costs more than a second cohort.
        configs = [job.config for job in jobs]
        for group in group_cohorts(configs, max_members=self.batch_size, by_width=True):
            members = [jobs[i] for i in group]
            if (why := unsupported(members[0].config)) is not None:
                results = [self.alone(job, why) for job in members]
            elif len(members) * self.seeds == 1:  # a cohort of one is the module engine's run
                results = [self.alone(members[0], "no other trial of its batch shares its "
                                      "structure (depth, norm, batch class, optimizer family...)")]
            else:
                results = self.run_cohort(members)
            for i, result in zip(group, results, strict=True):
                outcomes[i] = result
        return outcomes  # type: ignore[return-value]

    def run_cohort(self, jobs: Sequence[TrialJob]) -> list[TrialOutcome]:
        """One cohort per fold: every alive trial's seeds as consecutive members."""
        from tuneforge.run.cohort import train_cohort

        try:
            summaries = [[[] for _ in range(self.seeds)] for _ in jobs]  # [trial][seed][fold]
            reporters: list[SeedMean] = [self.reporter(job, 0) for job in jobs]
            alive = list(range(len(jobs)))  # trials still running (not pruned or diverged)
            first: dict[int, Any] = {}  # trial -> its first seed's holdout run
            for f, fold in enumerate(range(self.cv) if self.cv else [None]):
                places, cfgs, callbacks = [], [], []
                for j in alive:
                    reporters[j] = self.reporter(jobs[j], f)
                    reporters[j].start(*range(self.seeds))
                    for i, seed in enumerate(seeds_of(jobs[j].config, self.seeds)):
                        places.append((j, i))
                        cfgs.append(with_seed(jobs[j].config, seed))
                        callbacks.append([reporters[j].callback(i)])
                runs = train_cohort(cfgs, callbacks, data=self.data(cfgs[0], fold), compile=self.compile)
                for (j, i), run in zip(places, runs, strict=True):
                    summaries[j][i].append(run.summary)
                    if i == 0 and fold is None:
                        first[j] = run
                for j in alive:
                    reporters[j].flush()
                alive = [j for j in alive if not stopped(summaries[j])]
                if not alive:
                    break
            outcomes = [self.outcome(job, summaries[j], reporters[j]) for j, job in enumerate(jobs)]
        except Exception as exc:  # the group failed as a whole: give each trial its own chance
            why = cohort_failed(exc)
            return [self.alone(job, why) for job in jobs]
        for j, out in enumerate(outcomes):
            out.attrs[ENGINE_ATTR], out.run = "cohort", first.get(j)
        return outcomes


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def cohort_failed(exc: BaseException | None) -> str:
    """The fallback reason of the members of a cohort that raised ``exc``."""
    return f"their cohort failed and its members were retrained alone ({_message(exc) if exc else 'unknown error'})"
