"""The study loop of one worker: ask trials, hand them to an executor, tell the outcomes.

``tune.trials`` counts *finished* trials (complete or pruned) in the whole study, over every
worker and every run of the command: a worker asks only while finished + running trials are
fewer, waits while other workers' trials may still fill the count, and gives a trial back as
``surplus`` when a race with another worker made it one too many. Running the command again
therefore resumes a study until it holds exactly ``trials`` finished trials.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from tuneforge._compat import study_storage, trial_id
from tuneforge.config import to_dict
from tuneforge.errors import ConfigError
from tuneforge.tuning.executor import CohortExecutor, ModuleExecutor
from tuneforge.tuning.heartbeat import Heartbeat, fail_stale_trials
from tuneforge.tuning.plan import StudyPlan
from tuneforge.tuning.pruners import PRUNERS
from tuneforge.tuning.quiet import quiet_optuna
from tuneforge.tuning.resume import check_objectives, check_space
from tuneforge.tuning.samplers import SAMPLERS, AskTellGridSampler
from tuneforge.tuning.trials import TrialJob, TrialOutcome

#: Failures in a row after which a worker stops (something systematic: read the reasons).
MAX_FAILURES_IN_A_ROW = 10
OBJECTIVES_ATTR = "tuneforge:objectives"
#: the study's starting recipe (resolved), which the study report compares the best trial with
BASE_ATTR = "tuneforge:base"
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who ran a trial (user attribute "worker")
logger = logging.getLogger("tuneforge.tuning")


@dataclass
class KeptRun:
    """The best trial this worker ran, with its run in memory (``tuning/result.py`` writes it
    as the study's best run instead of training the recipe again)."""

    number: int
    value: float  # its first objective
    run: Any


@dataclass
class Counts:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned


_COUNTED = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed", TrialState.RUNNING: "running"}  # fmt: skip


def count(trials: Sequence[FrozenTrial]) -> Counts:
    counts = Counts()
    for trial in trials:
        if (name := _COUNTED.get(trial.state)) is not None:
            setattr(counts, name, getattr(counts, name) + 1)
    return counts


@contextmanager
def interrupt_after() -> Iterator[None]:
    """Hold Ctrl-C until the block ends: a trial is never left created but unknown (ask) or half
    told (attributes without a state). Signal handlers can only be set in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if caught:
            raise KeyboardInterrupt


def open_study(plan: StudyPlan, storage, worker: int = 0) -> optuna.Study:
    """Create the study, or load it to resume; a resumed study must keep its objectives."""
    steps = plan.max_steps
    study = optuna.create_study(storage=storage, study_name=plan.name, directions=plan.directions,
                                pruner=PRUNERS[plan.pruner].make(steps), load_if_exists=True)  # fmt: skip
    metrics = [o.metric for o in plan.objectives]
    stored = study.user_attrs.get(OBJECTIVES_ATTR)
    if stored is None:
        study.set_user_attr(OBJECTIVES_ATTR, metrics)
        study.set_user_attr(BASE_ATTR, to_dict(plan.base))
    else:  # resuming: refuse what the stored trials cannot mean (resume.py), before any ask
        check_objectives(study, stored, metrics, plan.directions)
        check_space(study, plan.space)
    existing = len(study.get_trials(deepcopy=False))
    # A resumed study continues the sampler's stream instead of repeating its first proposals.
    seed = None if plan.tune.seed is None else plan.tune.seed + existing + 7919 * worker
    grid = plan.space.grid() if plan.tune.sampler == "grid" else {}
    with quiet_optuna():
        study.sampler = SAMPLERS[plan.tune.sampler][0](seed, grid)
    return study


class Runner:
    """Runs trials of ``plan`` on ``study`` until the study holds ``tune.trials`` finished ones."""

    def __init__(self, plan: StudyPlan, study: optuna.Study, executor=None,
                 progress: Callable[[Counts, list[FrozenTrial]], None] | None = None,
                 log: Callable[[str], None] = logger.warning):  # fmt: skip
        self.plan, self.study, self.log = plan, study, log
        decides_at = PRUNERS[plan.pruner].decides_at
        if executor is None and plan.tune.cohort > 1:
            executor = CohortExecutor(plan.objectives, plan.cv, decides_at, plan.tune.cohort,
                                      plan.tune.compile, seeds=plan.tune.seeds,
                                      refill=plan.tune.refill, log=log)  # fmt: skip
        self.executor = executor or ModuleExecutor(plan.objectives, plan.cv, decides_at,
                                                   seeds=plan.tune.seeds)  # fmt: skip
        if isinstance(self.executor, ModuleExecutor):
            self.executor.share(plan.base, plan.data)
        self.progress = progress or (lambda counts, trials: None)
        self.batch_size = getattr(self.executor, "batch_size", 1)  # trials handed over at once
        self.inflight: list[optuna.Trial] = []
        self.failures_in_a_row = 0
        self.kept: KeptRun | None = None

    def run(self) -> bool:
        """Run until done; returns True when interrupted (Ctrl-C), with finished trials kept."""
        heartbeat = Heartbeat(study_storage(self.study))
        try:
            while (room := self._room()) is not None:
                if room == 0:  # other workers' running trials may complete the study
                    time.sleep(1.0)
                    continue
                if getattr(self.executor, "streams", False):  # rolling cohorts: asks as it goes
                    self.executor.stream(lambda n: self._ask_more(n, heartbeat),
                                         lambda job, outcome: self._tell(job.trial, outcome, heartbeat))  # fmt: skip
                    continue
                jobs = self._ask(self._share(room, self.batch_size), heartbeat)
                if jobs:
                    for job, outcome in zip(jobs, self.executor(jobs), strict=True):
                        self._tell(job.trial, outcome, heartbeat)
            return False
        except KeyboardInterrupt:
            self._fail_inflight("interrupted", heartbeat)
            return True
        except BaseException as exc:  # bad input (exit 2) or a bug: no trial stays RUNNING
            self._fail_inflight(f"{type(exc).__name__}: {' '.join(str(exc).split())}", heartbeat)
            raise
        finally:
            heartbeat.close()

    def _fail_inflight(self, reason: str, heartbeat: Heartbeat) -> None:
        for trial in list(self.inflight):
            self._tell(trial, TrialOutcome(TrialState.FAIL, None, {"reason": reason}), heartbeat)

    def _room(self) -> int | None:
        """How many trials to ask now; None when this worker is done."""
        fail_stale_trials(self.study)
        trials = self.study.get_trials(deepcopy=False)
        counts = count(trials)
        self.progress(counts, trials)
        target = self.plan.tune.trials
        if counts.finished >= target:
            return None
        if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            self.log(f"stopping: {self.failures_in_a_row} trials in a row failed (see their reasons "
                     "with `tuneforge study show`)")  # fmt: skip
            return None
        sampler = self.study.sampler
        if isinstance(sampler, AskTellGridSampler) and sampler.is_exhausted(self.study):
            return None
        return max(0, target - counts.finished - counts.running)

    def _ask_more(self, n: int, heartbeat: Heartbeat) -> list[TrialJob]:
        """Up to ``n`` more trials while the study has room (a stream's places freed up)."""
        room = self._room()
        return self._ask(self._share(room, n), heartbeat) if room else []

    def _share(self, room: int, n: int) -> int:
        """How many of ``n`` wanted trials to ask: local workers start together, so each takes
        its share of what is left and their cohorts don't all ask for the same last trials
        (the extras would only be given back as surplus)."""
        return min(n, room, math.ceil(room / self.plan.tune.workers))

    def _ask(self, n: int, heartbeat: Heartbeat) -> list[TrialJob]:
        jobs = []
        grid = self.study.sampler if isinstance(self.study.sampler, AskTellGridSampler) else None
        for _ in range(n):
            if grid is not None and jobs and grid.unstarted(self.study) == 0:
                break  # the rest of a cohort would repeat grid points
            with interrupt_after(), quiet_optuna():
                trial = self.study.ask()
                self.inflight.append(trial)
                heartbeat.add(self._trial_id(trial))
            if self._surplus(trial):
                self._tell(trial, TrialOutcome(TrialState.FAIL, None, {"reason": "surplus"}), heartbeat)
                continue
            try:
                values = self.plan.space.sample(trial)
                config = self.plan.space.config(values, f"trial {trial.number}")
            except ConfigError as exc:  # e.g. nesterov sampled with momentum 0
                self._tell(trial, TrialOutcome(TrialState.FAIL, None, {"reason": str(exc)}), heartbeat)
                continue
            jobs.append(TrialJob(trial, config))
        return jobs

    def _trial_id(self, trial: optuna.Trial) -> int:
        return trial_id(trial, study_storage(self.study), self.study.study_name)

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Another worker asked at the same moment and the study now has one trial too many."""
        alive = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        earlier = [t for t in self.study.get_trials(deepcopy=False, states=alive) if t.number <= trial.number]
        return len(earlier) > self.plan.tune.trials

    def _tell(self, trial: optuna.Trial, outcome: TrialOutcome, heartbeat: Heartbeat) -> None:
        with interrupt_after():
            try:
                for key, value in {**outcome.attrs, "worker": WORKER}.items():
                    trial.set_user_attr(key, value)
                self.study.tell(trial, outcome.values, state=outcome.state)
            except UpdateFinishedTrialError:
                self.log(f"trial {trial.number} was failed as stale by another worker (no "
                         "heartbeat for too long); its retry runs instead")  # fmt: skip
            finally:
                heartbeat.discard(self._trial_id(trial))
                self.inflight.remove(trial)
        self._keep(trial.number, outcome)
        reason = outcome.attrs.get("reason", "")
        if outcome.state == TrialState.FAIL and reason not in ("surplus", "interrupted"):
            self.failures_in_a_row += 1
            self.log(f"trial {trial.number} failed: {reason}")
        elif outcome.state != TrialState.FAIL:
            self.failures_in_a_row = 0

    def _keep(self, number: int, outcome: TrialOutcome) -> None:
        """Keep the run of the best complete trial so far (by the first objective, as
        ``Study.best_trial``; the earlier trial wins a tie)."""
        if outcome.state != TrialState.COMPLETE or outcome.run is None:
            return
        value = outcome.values[0]
        sign = 1 if self.plan.objectives[0].direction == "maximize" else -1
        if self.kept is None or sign * value > sign * self.kept.value:
            self.kept = KeptRun(number, value, outcome.run)
