"""Looking at training: ``tuneforge lr-find``, ``report`` and ``dashboard``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tuneforge.cli.common import (
    ConfigArg,
    SetOpt,
    check_out,
    console,
    fail,
    load,
    single_process,
    stop_on_signals,
)
from tuneforge.errors import TuneforgeError


def lr_find(
    config: ConfigArg = None,
    out: Annotated[Path | None, typer.Option(help="Folder for lr_find.json and the plot.")] = None,
    set_: SetOpt = [],  # noqa: B006
    min_lr: Annotated[float, typer.Option(min=0, help="First learning rate of the sweep.")] = 1e-7,
    max_lr: Annotated[float, typer.Option(min=0, help="Last learning rate of the sweep.")] = 10.0,
    steps: Annotated[int, typer.Option(min=1, help="Optimizer steps in the sweep.")] = 100,
    rule: Annotated[str, typer.Option(help="steepest | valley | minimum (docs/diagnostics.md).")] = "steepest",
    apply: Annotated[bool, typer.Option(help="Write OUT/config.yaml with the suggested lr.")] = False,
) -> None:
    """Learning-rate range test: sweep the LR geometrically, plot the loss, suggest an LR."""
    from tuneforge.report.lr_find import write_lr_find

    single_process("lr-find")
    check_out(out)
    cfg = load(config, set_)
    folder = out or Path("runs") / "lr-find" / (cfg.name or (config.stem if config else "default"))
    curve, written = write_lr_find(cfg, folder, apply=apply, min_lr=min_lr, max_lr=max_lr,
                                   steps=steps, rule=rule)  # fmt: skip
    if curve.suggestion is None:
        raise TuneforgeError(f"lr-find: no suggestion: the loss was not finite long enough "
                             f"({curve.stopped} after {len(curve.lrs)} steps); lower --max-lr "
                             "or --min-lr")  # fmt: skip
    Console().print(f"suggested learning rate ({rule}): [bold]{curve.suggestion:.3g}[/] "
                    f"(sweep {curve.stopped} after {len(curve.lrs)} steps)")  # fmt: skip
    for path in written:
        console.print(f"wrote {path}")
    if apply:
        console.print(f"train with it: tuneforge train {folder / 'config.yaml'}")


def report(
    run_dir: Annotated[Path | None, typer.Argument(help="A run directory.")] = None,
    study: Annotated[str | None, typer.Option(help="Study name (with --storage).")] = None,
    storage: Annotated[str | None, typer.Option(help="Study storage URL, e.g. journal:///runs/studies.journal")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for a study report (default runs/<study>).")] = None,
) -> None:
    """Write report.html for a run directory, or for a study (--study NAME [--storage URL])."""
    from tuneforge.report import write_report, write_study_report
    from tuneforge.report.study import safe_name

    if run_dir is not None and (storage is not None or study is not None):
        raise TuneforgeError("report: give a RUN_DIR, or --study NAME (and --storage URL), not both")
    if run_dir is not None:
        page = write_report(run_dir)
    else:  # the storage and study as `study show` finds them (runs/studies.journal by default)
        from tuneforge.cli.studies import load_study

        found = load_study(storage, study).optuna
        page = write_study_report(found, out or Path("runs") / safe_name(found.study_name))
    console.print(f"wrote {page}")


def dashboard(
    storage: Annotated[str, typer.Option(help="Study storage URL, e.g. journal:///runs/studies.journal")],
    host: Annotated[str, typer.Option(help="Address to bind; keep the default unless you must.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
) -> None:
    """Open optuna-dashboard on a study storage (needs the `dashboard` extra). Ctrl-C stops it."""
    from tuneforge.report.dashboard import MissingExtra, make_dashboard, serve

    try:
        server = make_dashboard(storage, host, port)
    except MissingExtra as exc:  # not bad input (exit 2): the machine lacks a package
        fail(str(exc), 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] serving on {host}: anyone who can reach it sees the study")
    stop_on_signals()
    try:
        serve(server, lambda url: print(f"optuna-dashboard on {url} (Ctrl-C stops it)", flush=True))
    except KeyboardInterrupt:
        console.print("dashboard stopped")

