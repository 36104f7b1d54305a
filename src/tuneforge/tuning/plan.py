"""Everything a study needs, resolved and checked before the first trial (bad input -> exit 2)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneforge.config import Config, parse_override, read_yaml, set_dotted, validate
from tuneforge.config.given import with_given
from tuneforge.config.tune_schema import DEFAULT_COHORT, TuneConfig
from tuneforge.data import Dataset, prepare
from tuneforge.engine.cohort.grouping import unsupported
from tuneforge.errors import ConfigError
from tuneforge.recipe.budget import epochs_for
from tuneforge.tuning.objective import Objective, resolve_objectives
from tuneforge.tuning.samplers import SAMPLERS
from tuneforge.tuning.space import SearchSpace, default_space
from tuneforge.tuning.storage import DEFAULT_STORAGE, LEGACY_STORAGE, is_sqlite
from tuneforge.usercode import is_spec

#: Where parallel workers go when no storage was chosen: the default journal file (SQLite is
#: unsafe for them, optuna#820).
PARALLEL_STORAGE = DEFAULT_STORAGE


@dataclass
class StudyPlan:
    raw: dict[str, Any]  # the recipe as the user wrote it, tune options applied
    source: str
    base: Config
    tune: TuneConfig
    space: SearchSpace
    objectives: list[Objective]
    name: str
    storage: str | None
    folder: Path
    pruner: str
    cv: int | None
    data: Dataset  # the holdout data of the base recipe, shared with the first trials
    notes: list[str] = field(default_factory=list)  # things the user should know, printed once

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def max_steps(self) -> int:
        return epochs_for(self.base.train, self.data.size("train")) * (self.cv or 1)


def raw_recipe(cfg: Config | Mapping | str | Path | None) -> tuple[dict[str, Any], str]:
    """The recipe as written: a YAML file's mapping, a dict, or the keys a Config was given."""
    if cfg is None:
        return {}, "config"
    if isinstance(cfg, (str, Path)):
        return read_yaml(cfg), str(cfg)
    if isinstance(cfg, Config):
        # Only the keys that were set: a trial switching adam -> sgd must not carry adam's betas.
        return cfg.model_dump(mode="json", exclude_unset=True), "config"
    return copy.deepcopy(dict(cfg)), "config"


def make_plan(
    cfg: Config | Mapping | str | Path | None,
    overrides: Iterable[str] = (),
    options: Mapping[str, Any] | None = None,
    given: tuple[Any, Any] = (None, None),
) -> StudyPlan:
    """Resolve a study: ``options`` are ``tune`` keys (``trials=16``) that win over the file;
    ``given`` the model and data objects handed to ``tuneforge.tune`` (config/given.py)."""
    raw, source = raw_recipe(cfg)
    for item in overrides:
        set_dotted(raw, *parse_override(item))
    if given != (None, None):
        raw = with_given(raw, *given)
    if raw.get("tune") is None:
        raw["tune"] = {}
    if not isinstance(raw["tune"], dict):
        raise ConfigError(f"{source}: tune: expected a mapping of tune settings")
    raw["tune"].update(options or {})
    base = validate(raw, source)
    tune = base.tune
    cv = tune.cv or (base.data.folds if _wants_cv(tune) else None)
    if cv is not None:  # trials (and best.yaml) split into the study's folds
        set_dotted(raw, "data.folds", cv)
        base = validate(raw, source)
    notes: list[str] = []
    storage = _storage(tune, "storage" in raw["tune"], source, _study_name(base), notes)
    data = prepare(base.data, _device(base))
    entries = tune.space if tune.space is not None else default_space(base.model.kind, data.task)
    space = SearchSpace(entries, raw, source)
    objectives = resolve_objectives(tune.objective, data.task, data.n_classes, cv,
                                    data.size("val") > 0, base.train.metrics, data.targets)  # fmt: skip
    plan = StudyPlan(raw, source, base, tune, space, objectives, _study_name(base),
                     storage, Path("runs"), _pruner(tune, len(objectives)), cv, data, notes)  # fmt: skip
    plan.folder = Path(tune.out) if tune.out else Path("runs") / plan.name
    if plan.folder.exists() and not plan.folder.is_dir():
        where = "tune.out" if tune.out else "tune.study"
        raise ConfigError(f"{source}: {where}: {plan.folder} is a file, not a folder; choose "
                          "another")  # fmt: skip
    plan.notes.extend(data.warnings)
    _check_sampler(plan)
    _check_refit(plan)
    reason = unsupported(base)  # why cohorts cannot train this recipe, or None
    if tune.cohort is None:  # the measured default where cohorts apply, else one at a time
        tune.cohort = 1 if reason else DEFAULT_COHORT
    elif tune.cohort > 1 and reason:
        plan.notes.append(f"tune.cohort {tune.cohort}: {reason}; trials train one at a time")
    if tune.cohort > 1 and tune.seeds > tune.cohort and not reason:
        plan.notes.append(f"tune.cohort counts members (trials x seeds): with tune.seeds {tune.seeds} "
                          f"each cohort holds one trial's {tune.seeds} seeds")  # fmt: skip
    if tune.refill and (tune.cohort == 1 or cv is not None):
        plan.notes.append("tune.refill rolls cohorts of a holdout study (tune.cohort > 1, no "
                          "tune.cv); here trials go in batches")  # fmt: skip
    if tune.compile and tune.cohort == 1:
        plan.notes.append("tune.compile compiles cohorts; with tune.cohort 1 it does nothing")
    if plan.storage is None and tune.workers > 1:
        raise ConfigError(f"{source}: tune.workers: {tune.workers} workers need a shared storage; "
                          f"tune.storage is null (in memory)")  # fmt: skip
    return plan


def _storage(tune: TuneConfig, chosen: bool, source: str, name: str, notes: list[str]) -> str | None:
    """The journal file is the default; SQLite is refused for parallel workers; a study that an
    earlier version kept in runs/studies.db (the old default) is resumed there."""
    if tune.workers > 1 and is_sqlite(tune.storage):
        raise ConfigError(
            f"{source}: tune.storage: {tune.storage} is SQLite, which is not safe for "
            f"{tune.workers} parallel workers (\"database is locked\", optuna#820); use "
            f"journal:///path/to/file.journal (one machine) or postgresql://... (many)")
    if not chosen and tune.storage == DEFAULT_STORAGE and _holds_study(LEGACY_STORAGE, name):
        if tune.workers == 1:
            notes.append(f"resuming study {name!r} in {LEGACY_STORAGE} (the default of earlier "
                         f"versions); new studies go to {DEFAULT_STORAGE}, which is faster")  # fmt: skip
            return LEGACY_STORAGE
        notes.append(f"study {name!r} in {LEGACY_STORAGE} is SQLite, not safe for parallel workers: "
                     f"this study starts afresh in {DEFAULT_STORAGE}")  # fmt: skip
    return None if tune.storage == "memory" else tune.storage


def _holds_study(url: str, name: str) -> bool:
    """Whether the SQLite file of ``url`` exists and holds a study called ``name`` (read-only)."""
    import sqlite3

    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT 1 FROM studies WHERE study_name = ?", (name,)).fetchone() is not None
    except sqlite3.Error:  # not an Optuna database: not ours to resume
        return False


def _device(cfg: Config):
    from tuneforge.engine.setup import resolve_device

    return resolve_device(cfg.train.device)


def _wants_cv(tune: TuneConfig) -> bool:
    return any(spec.metric.startswith("cv/") for spec in tune.objective or [])


def _study_name(cfg: Config) -> str:
    if cfg.tune.study:
        return cfg.tune.study
    source = cfg.data.source.rsplit(":", 1)[-1] if is_spec(cfg.data.source) else Path(cfg.data.source).stem
    return cfg.name or f"{source}-{cfg.model.kind}"


def _pruner(tune: TuneConfig, n_objectives: int) -> str:
    if tune.pruner is None:
        return "asha" if n_objectives == 1 else "none"
    if n_objectives > 1 and tune.pruner != "none":
        raise ConfigError(f"tune.pruner: {tune.pruner} needs a single objective (Optuna prunes "
                          "on one reported value); use pruner: none")  # fmt: skip
    return tune.pruner


def _check_sampler(plan: StudyPlan) -> None:
    name = plan.tune.sampler
    if len(plan.objectives) > 1 and not SAMPLERS[name][1]:
        raise ConfigError(f"tune.sampler: {name} optimizes a single objective; for several use "
                          "tpe, nsga2, gp, random or qmc")  # fmt: skip
    if name == "grid":
        plan.space.grid()  # raises for a float range without a step
    if len(plan.objectives) == 1 and plan.objectives[0].epoch_metric is None and plan.pruner != "none":
        plan.notes.append(f"{plan.objectives[0].metric} is only computed at the end of a run, "
                          f"so the {plan.pruner} pruner has nothing to act on")  # fmt: skip


def _check_refit(plan: StudyPlan) -> None:
    schedule = plan.base.train.schedule
    if plan.tune.refit and getattr(schedule, "monitor", "").startswith("val/"):
        raise ConfigError(f"tune.refit: train.schedule {schedule.name} watches {schedule.monitor}, "
                          "but a refit on train+val has no validation rows")  # fmt: skip
