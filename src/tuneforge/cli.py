"""The ``tuneforge`` command. Thin: parse arguments, call the API, map errors to exit codes.

Exit codes: 0 success; 2 bad input (config, data, arguments) with one line on stderr naming the
file, key or column; 1 anything else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from tuneforge.config import Config, load_config
from tuneforge.errors import TuneforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Train PyTorch models from a recipe and tune their hyperparameters.")  # fmt: skip
console = Console(stderr=True)

ConfigArg = Annotated[Path | None, typer.Argument(help="YAML recipe; omitted: the built-in default.")]
SetOpt = Annotated[list[str], typer.Option("--set", help="Override a key: train.optimizer.lr=0.01")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _show_version(value: bool) -> None:
    if value:
        from tuneforge import __version__

        typer.echo(f"tuneforge {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,  # fmt: skip
) -> None:
    """Train PyTorch models from a recipe and tune their hyperparameters."""


def _load(config: Path | None, overrides: list[str]) -> Config:
    return load_config(config, overrides)


def _run_dir(cfg: Config, out: Path | None) -> Path:
    """``--out``, or a fresh ``runs/<name>``; never a folder that already holds a run."""
    if out is not None:
        _check_out(out)
        if (out / "config.yaml").exists() and not _prepared_by_lr_find(out):
            raise TuneforgeError(f"--out {out}: already holds a run; continue it with --resume "
                                 f"{out} or choose another folder")  # fmt: skip
        return out
    name = cfg.name or f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(cfg.data.source).stem}-{cfg.model.kind}"
    folder, n = Path("runs") / name, 1
    while folder.exists():  # a second run with the same name keeps the first one's files
        n += 1
        folder = Path("runs") / f"{name}-{n}"
    return folder


#: Files only a training run writes; lr-find --apply writes config.yaml and lr_find.json only.
RUN_FILES = ("metrics.jsonl", "summary.json", "checkpoint", "model.safetensors")


def _prepared_by_lr_find(folder: Path) -> bool:
    """``lr-find --apply --out F`` prepared F for ``train F/config.yaml --out F``: not a run yet."""
    return (folder / "lr_find.json").is_file() and not any((folder / f).exists() for f in RUN_FILES)


def _check_out(out: Path | None, flag: str = "--out") -> None:
    """A folder to write into: an existing file there is refused, never overwritten."""
    if out is not None and out.exists() and not out.is_dir():
        raise TuneforgeError(f"{flag} {out}: is a file, not a folder; choose a folder for the outputs")


def _resume_dir(run_dir: Path, config: Path | None, out: Path | None, overrides: list[str]) -> Config:
    """Check that ``run_dir`` can be continued, before anything in it is touched."""
    from tuneforge.engine.checkpoint import latest

    for given, flag in ((config, "CONFIG"), (out, "--out"), (overrides, "--set")):
        if given:
            raise TuneforgeError(f"--resume: {flag} cannot be combined with it; a resumed run "
                                 f"continues {run_dir} with its own config.yaml")  # fmt: skip
    if not (run_dir / "config.yaml").is_file():
        raise TuneforgeError(f"--resume {run_dir}: no config.yaml, so it is not a run directory")
    if (run_dir / "summary.json").is_file():
        raise TuneforgeError(f"--resume {run_dir}: the run has already finished (summary.json "
                             "exists); nothing to resume")  # fmt: skip
    if _prepared_by_lr_find(run_dir):  # nothing trained yet: train into it
        raise TuneforgeError(f"--resume {run_dir}: nothing was trained there yet (lr-find wrote it); "
                             f"start it with: tuneforge train {run_dir / 'config.yaml'} --out {run_dir}")  # fmt: skip
    if latest(run_dir / "checkpoint") is None:
        again = run_dir.with_name(f"{run_dir.name}-again")
        raise TuneforgeError(f"--resume {run_dir}: no complete checkpoint (checkpoint/COMPLETE) "
                             f"to continue from; train it again with: tuneforge train "
                             f"{run_dir / 'config.yaml'} --out {again}")  # fmt: skip
    return _load(run_dir / "config.yaml", [])


@app.command()
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
        _single_process("train --seeds")
        if nproc > 1:
            raise TuneforgeError("--seeds: cannot be combined with --nproc; train the seeds one "
                                 "after another, each with --nproc, or in parallel with tune")  # fmt: skip
        _train_seeds(config, out, set_, resume, quiet, seeds)
        return
    if resume is not None:
        cfg, folder = _resume_dir(resume, config, out, set_), resume
    else:
        cfg = _load(config, set_)
        # Under torchrun every rank gets here before the first rendezvous, so none of them can
        # see a folder rank 0 already wrote to; only rank 0 ever writes to it.
        folder = _run_dir(cfg, out)
    if nproc > 1:
        from tuneforge.run import check_inputs

        check_inputs(cfg, nproc)  # bad input: exit code 2 here, before N processes start
        _launch_torchrun(nproc, config, folder, set_, resume, quiet)
        return
    # Imported after the config is checked: a bad config fails fast, before torch loads.
    from tuneforge.cli_progress import EpochProgress
    from tuneforge.engine.distributed import world_from_env
    from tuneforge.run import train as train_run

    main_rank = world_from_env().is_main
    with EpochProgress(cfg.train.epochs, quiet or not main_rank) as progress:
        run = train_run(cfg, folder, resume=resume is not None, callbacks=[progress])
    if not main_rank:  # rank 0 reports for the whole job
        return
    _print_scores(f"{run.summary['status']}: {folder}", run.summary["metrics"])
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
        _fail(f"train --nproc {nproc}: torchrun exited with code {code} (the failing rank's "
              "message is above)", 1)  # fmt: skip


def _single_process(command: str) -> None:
    from tuneforge.engine.distributed import refuse_torchrun

    refuse_torchrun(command)


def _train_seeds(config, out, overrides, resume, quiet, n: int) -> None:
    if resume is not None:
        raise TuneforgeError("--seeds: cannot be combined with --resume; resume one seed's run "
                             "folder (<out>/seed<k>) on its own")  # fmt: skip
    cfg = _load(config, overrides)
    folder = _run_dir(cfg, out)
    from tuneforge.cli_progress import EpochProgress
    from tuneforge.run.seeds import train_seeds

    with EpochProgress(cfg.train.epochs, quiet, f"{n} seeds", runs=n) as progress:
        result = train_seeds(cfg, n, folder, callbacks=[progress])
    _print_spread(f"{n} seeds {result['seeds']}: {folder}", result)
    for run in result["runs"]:
        if run["status"] not in ("completed", "early_stopped", "threshold_reached"):
            console.print(f"[yellow]warning:[/] seed {run['seed']}: {run['status']}")
    if (folder / "report.html").is_file():
        console.print(f"report: {folder / 'report.html'}")


def _print_spread(title: str, result: dict) -> None:
    table = Table("metric", "mean ± std")
    for key, mean in result["mean"].items():
        table.add_row(key, f"{mean:.4f} ± {result['std'][key]:.4f}")
    out = Console()
    out.print(title, markup=False, highlight=False, soft_wrap=True)
    out.print(table)


@app.command()
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
    _single_process("cv")
    _check_out(out)
    cfg = _load(config, set_)
    from tuneforge.cli_progress import EpochProgress
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


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    data: Annotated[Path | None, typer.Option(help="A file with the target column.")] = None,
    part: Annotated[str, typer.Option(help="Split to score when no --data: train, val or test.")] = "test",
) -> None:
    """Score a saved model on one of its splits or on a labelled file."""
    from tuneforge.predict import evaluate_run

    _print_scores(f"{run_dir}: {data or part}", evaluate_run(run_dir, data, part))


@app.command()
def refine(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (only read).")],
    trials: Annotated[int, typer.Option(help="Random perturbations, evaluated at once.")] = 100,
    scale: Annotated[float, typer.Option(help="σ of the Gaussian noise added to every trained weight.")] = 0.01,
    part: Annotated[str, typer.Option(help="Rows whose loss picks the best: train, val or test.")] = "val",
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    out: Annotated[Path | None, typer.Option(help="New run directory (default: RUN_DIR-refined).")] = None,
) -> None:
    """Perturb a run's weights at random; keep the best if it beats the run (a new run directory)."""
    from tuneforge.run.refine import refine_run

    found = refine_run(run_dir, trials=trials, scale=scale, part=part, seed=seed, out=out)
    r = found.record
    if found.run is None:
        console.print(f"no perturbation of {trials} (σ={scale}) beat {run_dir}'s {part}/loss "
                      f"{r['loss_before']:.6g} (best tried: {r['best_tried']:.6g}); nothing written", markup=False, soft_wrap=True)  # fmt: skip
        return
    console.print(f"{part}/loss {r['loss_before']:.6g} -> {r['loss_after']:.6g} (trial {r['trial']}, "
                  f"{r['better_trials']} of {trials} better); wrote {found.run.path}", markup=False, soft_wrap=True)  # fmt: skip
    _print_scores(f"{found.run.path}: refined", found.run.summary["metrics"])


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV/parquet of feature rows (.npz for image/sequence runs).")],
    out: Annotated[Path | None, typer.Option(help="Output CSV (default: stdout).")] = None,
) -> None:
    """Predict for the rows of a file; writes a CSV with a "prediction" column."""
    from tuneforge.predict import predict_file

    frame = predict_file(run_dir, input_file)
    if out is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(out, index=False)
        console.print(f"wrote {len(frame)} predictions to {out}")


@app.command()
def init(
    example: Annotated[str, typer.Option(help="Starter to write (see --list).")] = "mlp",
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path("tuneforge.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the starters.")] = False,
) -> None:
    """Write a commented starter config."""
    from tuneforge.config.starters import STARTERS, companion_files, starter_text

    if list_:
        for name, description in STARTERS.items():
            typer.echo(f"{name:12} {description}")
        return
    text, companions = starter_text(example), companion_files(example)  # an unknown starter is named first
    for path in [out, *(out.parent / file for file in companions)]:
        if path.exists() and not force:
            raise TuneforgeError(f"{path}: already exists; pass --force to overwrite it")
    # Editors with the YAML language server check and complete keys against the schema,
    # written beside the recipe (it is derived: rewriting it is always safe).
    schema = out.parent / SCHEMA_FILE
    _write_schema(schema)
    out.write_text(f"# yaml-language-server: $schema={SCHEMA_FILE}\n{text}")
    for file, code in companions.items():
        (out.parent / file).write_text(code)
        console.print(f"wrote {out.parent / file}")
    console.print(f"wrote {out} (and {schema} for editors); run it with: tuneforge train {out}")


SCHEMA_FILE = "tuneforge.schema.json"


def _write_schema(path: Path | None) -> None:
    import json

    from tuneforge.config.reference import json_schema

    text = json.dumps(json_schema(), indent=1) + "\n"
    if path is None:
        sys.stdout.write(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Where to write it (default: stdout).")] = None,
) -> None:
    """Write the JSON Schema of a recipe (for editors: completion and checks of every key)."""
    _write_schema(out)
    if out is not None:
        console.print(f"wrote {out}")


@app.command("lr-find")
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

    _single_process("lr-find")
    _check_out(out)
    cfg = _load(config, set_)
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


@app.command()
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
        from tuneforge.cli_tune import _load as load_study

        found = load_study(storage, study).optuna
        page = write_study_report(found, out or Path("runs") / safe_name(found.study_name))
    console.print(f"wrote {page}")


@app.command()
def dashboard(
    storage: Annotated[str, typer.Option(help="Study storage URL, e.g. journal:///runs/studies.journal")],
    host: Annotated[str, typer.Option(help="Address to bind; keep the default unless you must.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
) -> None:
    """Open optuna-dashboard on a study storage (needs the `dashboard` extra). Ctrl-C stops it."""
    import signal

    from tuneforge.report.dashboard import MissingExtra, make_dashboard, serve

    try:
        server = make_dashboard(storage, host, port)
    except MissingExtra as exc:  # not bad input (exit 2): the machine lacks a package
        _fail(str(exc), 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] serving on {host}: anyone who can reach it sees the study")
    # Explicit handlers: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve(server, lambda url: print(f"optuna-dashboard on {url} (Ctrl-C stops it)", flush=True))
    except KeyboardInterrupt:
        console.print("dashboard stopped")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


from tuneforge.cli_storage import storage_app  # noqa: E402 - the commands register on `app`
from tuneforge.cli_tune import study_app, tune  # noqa: E402

app.command()(tune)
app.add_typer(study_app, name="study")
app.add_typer(storage_app, name="storage")


def _print_scores(title: str, scores: dict) -> None:
    # The title goes above the table, not in it: a path as a table title wraps at its width.
    table = Table("metric", "value")
    for key, value in scores.items():
        table.add_row(key, "—" if value is None else f"{value:.4f}")
    out = Console()
    out.print(title, markup=False, highlight=False, soft_wrap=True)
    out.print(table)


def main() -> None:
    """Console entry point: run the app, turning bad input into one line and exit code 2."""
    try:
        app(standalone_mode=False)
    except TuneforgeError as exc:
        _fail(str(exc), 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors: unknown option, missing argument (exit code 2)
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help text was shown; no error line
            sys.exit(exc.exit_code)
        _fail(exc.format_message(), exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # anything else is our bug or the machine's: exit 1
        if os.environ.get("TUNEFORGE_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc} (TUNEFORGE_DEBUG=1 shows the traceback)", 1)


def _fail(message: str, code: int) -> None:
    # Plain print, not rich: rich would wrap a long message over several lines.
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
