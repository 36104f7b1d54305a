"""``tuneforge.tune``: plan a study, run its workers, then export and refit the best recipe."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import optuna
import torch

from tuneforge.config import Config
from tuneforge.engine.distributed import refuse_torchrun
from tuneforge.report import preload, write_study_report
from tuneforge.tuning.plan import StudyPlan, make_plan
from tuneforge.tuning.result import Study, claim_folder, refit, write_best, write_best_run
from tuneforge.tuning.runner import Runner
from tuneforge.tuning.startup import open_worker_study
from tuneforge.tuning.workers import join_workers, share_cores, start_workers

logger = logging.getLogger("tuneforge.tuning")


def tune(
    cfg: Config | Mapping | str | Path | None = None,
    *,
    overrides: Iterable[str] = (),
    progress=None,
    log=logger.warning,
    model: Any = None,
    data: Any = None,
    **options: Any,
) -> Study:
    """Tune a recipe's hyperparameters with Optuna; returns the :class:`Study`.

    Args:
        cfg: a YAML path, a :class:`Config`, a plain dict, or None for the built-in default
            (the digits MLP and its default search space).
        overrides: ``"dotted.key=value"`` strings, as ``--set`` on the command line.
        progress: called as ``progress(counts, trials)`` while the study runs (the CLI's bar).
        log: where notes and trial failures go (default: the ``tuneforge.tuning`` logger).
        model: an ``nn.Module`` class or factory, tuned as ``model.kind: custom`` (its
            ``model.args`` are tunable as ``model.args.<name>``; docs/custom.md).
        data: the rows: a DataFrame (with ``data.target``), ``(X, y)`` or a dict of arrays.
        **options: any ``tune`` key, winning over the config: ``trials=16``, ``storage=None``
            (in memory), ``study="name"``, ``workers=4``, ``sampler="random"``...

    Example:
        >>> import tuneforge
        >>> study = tuneforge.tune(overrides=["train.epochs=2"], trials=2, storage=None)
        >>> len(study.trials_dataframe())
        2
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan = make_plan(cfg, overrides, options, given=(model, data))
    for note in plan.notes:
        log(note)
    study = run_plan(plan, progress, log)
    return finish(plan, study, log)


def run_plan(plan: StudyPlan, progress=None, log=logger.warning) -> Study:
    """Open the study and run its workers (this process is worker 0) until it is done."""
    refuse_torchrun("tune")
    optuna_study = open_worker_study(plan)
    helpers, threads = [], None
    if plan.tune.workers > 1:
        threads = share_cores(plan.tune.workers)
        helpers = start_workers(plan.tune.workers, plan.raw, plan.source)
    preload.start(preload.STUDY)  # what finish() writes the reports with, imported while the trials train
    try:
        runner = Runner(plan, optuna_study, progress=progress, log=log)
        interrupted = runner.run()
    finally:
        join_workers(helpers, log)
        if threads is not None:
            torch.set_num_threads(threads)
    metrics = [o.metric for o in plan.objectives]
    return Study(optuna_study, metrics, plan.folder, interrupted, notes=list(plan.notes), kept=runner.kept)


def finish(plan: StudyPlan, study: Study, log=logger.warning) -> Study:
    """Write best.yaml; unless interrupted, train the best recipe and (tune.refit) refit it."""
    if not study.optuna.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]):
        log(f"study {study.name!r}: no trial completed, so there is no best recipe")
        return study
    study.folder = claim_folder(study, plan.folder)
    if study.folder != plan.folder:
        log(f"{plan.folder} holds another study's results (named {study.name!r} too); this "
            f"study's best.yaml and best run go to {study.folder}")  # fmt: skip
    write_best(study, study.folder / "best.yaml")
    study.report = write_study_report(study.optuna, study.folder)
    if study.interrupted:
        return study
    study.best_run, warning = write_best_run(study, study.folder)
    if warning:
        log(warning)
    if plan.tune.refit:
        study.refit_metrics = refit(study, study.folder)
    return study
