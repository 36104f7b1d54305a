"""What the verbs share: argument types, the run folder rules, score tables, the error line."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tuneforge.config import Config, load_config
from tuneforge.errors import TuneforgeError

console = Console(stderr=True)

ConfigArg = Annotated[Path | None, typer.Argument(help="YAML recipe; omitted: the built-in default.")]
SetOpt = Annotated[list[str], typer.Option("--set", help="Override a key: train.optimizer.lr=0.01")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def load(config: Path | None, overrides: list[str]) -> Config:
    return load_config(config, overrides)


def run_dir(cfg: Config, out: Path | None) -> Path:
    """``--out``, or a fresh ``runs/<name>``; never a folder that already holds a run."""
    if out is not None:
        check_out(out)
        if (out / "config.yaml").exists() and not prepared_by_lr_find(out):
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


def prepared_by_lr_find(folder: Path) -> bool:
    """``lr-find --apply --out F`` prepared F for ``train F/config.yaml --out F``: not a run yet."""
    return (folder / "lr_find.json").is_file() and not any((folder / f).exists() for f in RUN_FILES)


def check_out(out: Path | None, flag: str = "--out") -> None:
    """A folder to write into: an existing file there is refused, never overwritten."""
    if out is not None and out.exists() and not out.is_dir():
        raise TuneforgeError(f"{flag} {out}: is a file, not a folder; choose a folder for the outputs")


def resume_dir(run_dir: Path, config: Path | None, out: Path | None, overrides: list[str]) -> Config:
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
    if prepared_by_lr_find(run_dir):  # nothing trained yet: train into it
        raise TuneforgeError(f"--resume {run_dir}: nothing was trained there yet (lr-find wrote it); "
                             f"start it with: tuneforge train {run_dir / 'config.yaml'} --out {run_dir}")  # fmt: skip
    if latest(run_dir / "checkpoint") is None:
        again = run_dir.with_name(f"{run_dir.name}-again")
        raise TuneforgeError(f"--resume {run_dir}: no complete checkpoint (checkpoint/COMPLETE) "
                             f"to continue from; train it again with: tuneforge train "
                             f"{run_dir / 'config.yaml'} --out {again}")  # fmt: skip
    return load(run_dir / "config.yaml", [])


def single_process(command: str) -> None:
    from tuneforge.engine.distributed import refuse_torchrun

    refuse_torchrun(command)


def print_scores(title: str, scores: dict) -> None:
    # The title goes above the table, not in it: a path as a table title wraps at its width.
    table = Table("metric", "value")
    for key, value in scores.items():
        table.add_row(key, "—" if value is None else f"{value:.4f}")
    out = Console()
    out.print(title, markup=False, highlight=False, soft_wrap=True)
    out.print(table)


def print_spread(title: str, result: dict) -> None:
    table = Table("metric", "mean ± std")
    for key, mean in result["mean"].items():
        table.add_row(key, f"{mean:.4f} ± {result['std'][key]:.4f}")
    out = Console()
    out.print(title, markup=False, highlight=False, soft_wrap=True)
    out.print(table)


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM end a long-running command (a server) with ``KeyboardInterrupt``.

    Explicit handlers: a process started in the background inherits SIGINT ignored."""
    import signal

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def fail(message: str, code: int) -> None:
    # Plain print, not rich: rich would wrap a long message over several lines.
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)
