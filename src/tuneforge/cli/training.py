"""``tuneforge train`` (one run, several seeds, or torchrun processes) and ``tuneforge cv``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tuneforge.cli.common import (
    ConfigArg,
    QuietOpt,
    SetOpt,
    check_out,
    console,
    fail,
    load,
    print_scores,
    print_spread,
    resume_dir,
    run_dir,
    single_process,
)
from tuneforge.errors import TuneforgeError


def train(
    config: ConfigArg = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/<name>).")] = None,
    set_: SetOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    resume: Annotated[Path | None, typer.Option(help="Continue a killed run from its folder.")] = None,
    quiet: QuietOpt = False,
    seeds: Annotated[int, typer.Option(min=1, help="Train N times (train.seed, +1, ...): mean ± std.")] = 1,
    nproc: Annotated[int, typer.Option(min=1, help="Data-parallel processes on this machine (torchrun + DDP).")] = 1,
) -> None:
    """Train one recipe and write its run directory."""
    if seeds > 1:
        single_process("train --seeds")
        if nproc > 1:
            raise TuneforgeError("--seeds: cannot be combined with --nproc; train the seeds one "
                                 "after another, each with --nproc, or in parallel with tune")  # fmt: skip
        _train_seeds(config, out, set_, resume, quiet, seeds)
        return
    if resume is not None:
        cfg, folder = resume_dir(resume, config, out, set_), resume
    else:
        cfg = load(config, set_)
        # Under torchrun every rank gets here before the first rendezvous, so none of them can
        # see a folder rank 0 already wrote to; only rank 0 ever writes to it.
        folder = run_dir(cfg, out)
    if nproc > 1:
        from tuneforge.run import check_inputs

        check_inputs(cfg, nproc)  # bad input: exit code 2 here, before N processes start
        _launch_torchrun(nproc, config, folder, set_, resume, quiet)
        return
    # Imported after the config is checked: a bad config fails fast, before torch loads.
    from tuneforge.cli.progress import EpochProgress
    from tuneforge.engine.distributed import world_from_env
    from tuneforge.run import train as train_run

    main_rank = world_from_env().is_main
    with EpochProgress(cfg.train.epochs, quiet or not main_rank) as progress:
        run = train_run(cfg, folder, resume=resume is not None, callbacks=[progress])
    if not main_rank:  # rank 0 reports for the whole job
        return
    print_scores(f"{run.summary['status']}: {folder}", run.summary["metrics"])
    for warning in run.summary["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    if (folder / "report.html").is_file():
        console.print(f"report: {folder / 'report.html'}")


def _launch_torchrun(nproc: int, config, folder: Path, overrides, resume, quiet: bool) -> None:
    """Run this same ``train`` in ``nproc`` torchrun processes (argument list, no shell)."""
    from tuneforge.engine.distributed import launched_size, torchrun_command

    if launched_size() > 1:
        raise TuneforgeError("--nproc: this process already runs under torchrun; drop --nproc")
    args = ["train", "--resume", str(folder)] if resume is not None else ["train", "--out", str(folder)]
    if resume is None and config is not None:
        args.insert(1, str(config))
    for override in overrides:
        args += ["--set", override]
    args += ["--quiet"] if quiet else []
    code = subprocess.run(torchrun_command(nproc, args)).returncode
    if code:
        fail(f"train --nproc {nproc}: torchrun exited with code {code} (the failing rank's "
              "message is above)", 1)  # fmt: skip


def _train_seeds(config, out, overrides, resume, quiet, n: int) -> None:
    if resume is not None:
        raise TuneforgeError("--seeds: cannot be combined with --resume; resume one seed's run "
                             "folder (<out>/seed<k>) on its own")  # fmt: skip
    cfg = load(config, overrides)
    folder = run_dir(cfg, out)
    from tuneforge.cli.progress import EpochProgress
    from tuneforge.run.seeds import train_seeds

    with EpochProgress(cfg.train.epochs, quiet, f"{n} seeds", runs=n) as progress:
        result = train_seeds(cfg, n, folder, callbacks=[progress])
    print_spread(f"{n} seeds {result['seeds']}: {folder}", result)
    for run in result["runs"]:
        if run["status"] not in ("completed", "early_stopped", "threshold_reached"):
            console.print(f"[yellow]warning:[/] seed {run['seed']}: {run['status']}")
    if (folder / "report.html").is_file():
        console.print(f"report: {folder / 'report.html'}")


def cv(
    config: ConfigArg = None,
    folds: Annotated[int | None, typer.Option(min=2, help="Number of folds (data.folds).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the per-fold runs.")] = None,
    set_: SetOpt = [],  # noqa: B006
    quiet: QuietOpt = False,
    seeds: Annotated[int, typer.Option(min=1, help="Repeat the k-fold for N training seeds "
                                                   "(train.seed, +1, ...); same folds.")] = 1,
) -> None:
    """k-fold cross-validation of one recipe: mean ± std of every metric."""
    single_process("cv")
    check_out(out)
    cfg = load(config, set_)
    from tuneforge.cli.progress import EpochProgress
    from tuneforge.run.cv import cross_validate

    k = folds or cfg.data.folds
    label = f"{k}-fold cv" + (f" × {seeds} seeds" if seeds > 1 else "")
    with EpochProgress(cfg.train.epochs, quiet, label, runs=k * seeds) as progress:
        result = cross_validate(cfg, folds, out, callbacks=[progress], seeds=seeds)
    if seeds == 1:
        table = Table("metric", "mean ± std", title=f"{len(result['folds'])}-fold cross-validation")
        for key, mean in result["mean"].items():
            table.add_row(key, f"{mean:.4f} ± {result['std'][key]:.4f}")
        Console().print(table)
        return
    _print_cv_seeds(result)


def _print_cv_seeds(result: dict) -> None:
    """All runs' mean ± std, then each seed's mean ± std over its folds."""
    per_seed = result["per_seed"]
    table = Table("metric", f"all {len(result['runs'])} runs", *(f"seed {s['seed']}" for s in per_seed),
                  title=f"{result['n_folds']}-fold cross-validation × {len(per_seed)} seeds")  # fmt: skip
    for key, mean in result["mean"].items():
        cells = [f"{s['mean'][key]:.4f} ± {s['std'][key]:.4f}" for s in per_seed]
        table.add_row(key, f"{mean:.4f} ± {result['std'][key]:.4f}", *cells)
    Console().print(table)
