"""``tuneforge tune`` and ``tuneforge study list|show|best``: parse, call the API, print tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tuneforge.cli.common import ConfigArg, QuietOpt, SetOpt, console
from tuneforge.errors import DataError

if TYPE_CHECKING:  # optuna is imported where it is used: `tuneforge --help` stays instant
    from optuna.trial import FrozenTrial

out = Console()
study_app = typer.Typer(no_args_is_help=True, help="Read studies from any storage: list, show, best.")

StorageOpt = Annotated[str | None, typer.Option(help="Optuna storage URL (sqlite:///..., "
                                                   "postgresql://..., journal:///file.journal).")]  # fmt: skip
StudyOpt = Annotated[str | None, typer.Option("--study", help="Study name.")]


def tune(
    config: ConfigArg = None,
    trials: Annotated[int | None, typer.Option(min=1, help="Finished trials the study should hold.")] = None,
    storage: StorageOpt = None,
    study: StudyOpt = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes on this machine.")] = None,
    set_: SetOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    quiet: QuietOpt = False,
) -> None:
    """Tune a recipe's hyperparameters (run it again to resume the study)."""
    import optuna

    from tuneforge.engine.distributed import refuse_torchrun
    from tuneforge.tuning.api import finish, run_plan

    refuse_torchrun("tune")  # before the plan: it may create the study's folder
    from tuneforge.tuning.plan import make_plan

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    given = {"trials": trials, "storage": storage, "study": study, "workers": workers}
    plan = make_plan(config, set_, {k: v for k, v in given.items() if v is not None})
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in plan.objectives)
    console.print(f"study [bold]{plan.name}[/] in {plan.storage or 'memory'}: {objectives}; "
                  f"sampler {plan.tune.sampler}, pruner {plan.pruner}, {plan.tune.workers} worker(s)")  # fmt: skip
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
    with TrialProgress(plan.tune.trials, plan.directions, quiet) as bar:
        result = run_plan(plan, bar.update, bar.log)
    result = finish(plan, result, bar.log)
    if len(result.metrics) > 1:
        print_pareto(result.pareto_front, result.metrics)
    if any(_complete(t) for t in result.optuna.get_trials(deepcopy=False)):
        print_best(result.best_trial, result.metrics, result.best_run, result.folder / "best.yaml",
                   result.refit_metrics)  # fmt: skip
    if result.report is not None:
        console.print(f"study report: {result.report}")
    if result.interrupted:
        console.print("interrupted: finished trials are kept; run the same command to resume")
        sys.exit(130)  # not typer.Exit: with standalone_mode=False click returns its code instead


class TrialProgress:
    """A rich bar over finished trials: complete / pruned / failed counts and the best value."""

    def __init__(self, total: int, directions: list[str], quiet: bool = False):
        self.total, self.directions = total, directions
        self.progress = None if quiet else Progress(
            TextColumn("[bold]tune"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[text]}"),
            TimeElapsedColumn(), console=console)  # fmt: skip

    def __enter__(self) -> TrialProgress:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("tune", total=self.total, text="")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, counts, trials: list[FrozenTrial]) -> None:
        if self.progress is None:
            return
        text = f"✓ {counts.complete} complete  ✂ {counts.pruned} pruned  ✗ {counts.failed} failed"
        done = [t for t in trials if _complete(t)]
        if done and len(self.directions) == 1:
            pick = max if self.directions[0] == "maximize" else min
            text += f"  best {pick(t.value for t in done):.4f}"
        self.progress.update(self.task, completed=min(counts.finished, self.total), text=text)

    def log(self, message: str) -> None:
        console.print(f"[yellow]warning:[/] {message}")


def print_best(trial: FrozenTrial, metrics: list[str], run_dir, best_yaml, refit: dict) -> None:
    table = Table("best trial", str(trial.number), title="best trial")
    spread = trial.user_attrs.get("seed_values", {})  # tune.seeds: the value is a mean over seeds
    for metric, value in zip(metrics, trial.values, strict=True):
        if metric in spread:
            std, each = trial.user_attrs["seed_std"][metric], ", ".join(map(_fmt, spread[metric]))
            table.add_row(metric, f"{_fmt(value)} ± {_fmt(std)} (seeds: {each})")
        else:
            table.add_row(metric, _fmt(value))
    for key, value in trial.params.items():
        table.add_row(key, _fmt(value))
    if run_dir is not None:
        table.add_row("run dir", str(run_dir))
    if best_yaml is not None and Path(best_yaml).is_file():
        table.add_row("recipe", str(best_yaml))
    for key, value in refit.items():
        table.add_row(f"refit {key}", _fmt(value))
    out.print(table)


def print_pareto(trials: list[FrozenTrial], metrics: list[str]) -> None:
    table = Table("trial", *metrics, "params", title=f"Pareto front ({len(trials)} trials)")
    for trial in sorted(trials, key=lambda t: t.values[0]):
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        table.add_row(str(trial.number), *(_fmt(v) for v in trial.values), params)
    out.print(table)


def _complete(trial: FrozenTrial) -> bool:
    return trial.state.name == "COMPLETE"


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ------------------------------------------------------------------------ study commands
def _default_urls(storage: str | None) -> list[str]:
    """The storage asked for, or the default ones that exist: the journal file, and the SQLite
    file earlier versions kept studies in."""
    from tuneforge.tuning.storage import DEFAULT_STORAGE, JOURNAL_PREFIX, LEGACY_STORAGE

    if storage is not None:
        return [storage]
    found = [url for url in (DEFAULT_STORAGE, LEGACY_STORAGE)
             if Path(url.removeprefix("sqlite:///").removeprefix(JOURNAL_PREFIX)).is_file()]  # fmt: skip
    if not found:
        raise DataError(f"no study storage here ({DEFAULT_STORAGE} does not exist); pass --storage")
    return found


def load_study(storage: str | None, name: str | None):
    """The study ``name`` (or the only study) from ``storage`` or the default storages."""
    import optuna

    from tuneforge.tuning.result import Study
    from tuneforge.tuning.runner import OBJECTIVES_ATTR
    from tuneforge.tuning.storage import open_storage

    urls = _default_urls(storage)
    where = {n: url for url in reversed(urls) for n in optuna.get_all_study_names(open_storage(url, must_exist=True))}
    if name is None:
        if len(where) != 1:
            raise DataError(f"{', '.join(urls)}: holds {len(where)} studies ({', '.join(where) or 'none'}); "
                            "choose one with --study")  # fmt: skip
        name = next(iter(where))
    if name not in where:
        raise DataError(f"{', '.join(urls)}: no study named {name!r}; there are: {', '.join(where) or 'none'}")
    study = optuna.load_study(study_name=name, storage=open_storage(where[name], must_exist=True))
    metrics = study.user_attrs.get(OBJECTIVES_ATTR) or [f"value {i}" for i in range(len(study.directions))]
    return Study(study, metrics)


@study_app.command("list")
def study_list(storage: StorageOpt = None) -> None:
    """Every study in a storage, with its trial counts and best value."""
    import optuna

    from tuneforge.tuning.runner import count
    from tuneforge.tuning.storage import open_storage

    for url in _default_urls(storage):
        table = Table("study", "objective", "complete", "pruned", "failed", "running", "best", title=url)
        for name in optuna.get_all_study_names(open_storage(url, must_exist=True)):
            result = load_study(url, name)
            counts = count(result.optuna.get_trials(deepcopy=False))
            best = _fmt(result.best_value) if counts.complete and len(result.metrics) == 1 else "—"
            table.add_row(name, ", ".join(result.metrics), str(counts.complete), str(counts.pruned),
                          str(counts.failed), str(counts.running), best)  # fmt: skip
        out.print(table)


@study_app.command("show")
def study_show(storage: StorageOpt = None, study: StudyOpt = None) -> None:
    """Every trial of a study: state, value(s), parameters and why it ended."""
    result = load_study(storage, study)
    trials = result.optuna.get_trials(deepcopy=False)
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    retried = {t.system_attrs["retry_history"][-1]: t.number for t in trials
               if t.system_attrs.get("retry_history")}  # fmt: skip
    short = [k.rsplit(".", 1)[-1] for k in keys]  # lr, hidden, ...: narrow columns where unique
    headers = short if len(set(short)) == len(short) else keys
    table = Table("trial", "state", *result.metrics, *headers, "note", title=result.name)
    for trial in trials:
        shown = _complete(trial) or (trial.values and len(result.metrics) == 1)
        values = [_fmt(v) for v in trial.values] if shown else ["—"] * len(result.metrics)
        params = [_fmt(trial.params[k]) if k in trial.params else "" for k in keys]
        note = trial.user_attrs.get("reason", "")
        if trial.number in retried:  # failed by heartbeat: its worker died
            note = f"worker stopped (no heartbeat); retried as trial {retried[trial.number]}"
        table.add_row(str(trial.number), trial.state.name.lower(), *values, *params, note)
    out.print(table)


@study_app.command("best")
def study_best(
    storage: StorageOpt = None,
    study: StudyOpt = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the best recipe here.")] = None,
) -> None:
    """The best trial (or the Pareto front); --out writes its recipe as YAML."""
    from tuneforge.tuning.result import write_best

    result = load_study(storage, study)
    if len(result.metrics) > 1:
        print_pareto(result.pareto_front, result.metrics)
    path = write_best(result, out_file) if out_file is not None else None
    print_best(result.best_trial, result.metrics, None, path, {})
