"""The fuzzer's harness: run the CLI in this process, snapshot the folder, check the properties.

The properties (issue #18): the exit code is 0 or 2, never 1; an exit-2 message is at most two
lines, names the file, key, column or option at fault, and shows no traceback; after exit 2
nothing under ``runs/`` or in the study storage changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cli_result import Result

TINY_YAML = """\
data: {source: iris}
model: {kind: mlp, hidden: [4]}
train: {epochs: 1, batch_size: 32}
tune:
  trials: 2
  cohort: 1
  space:
    train.optimizer.lr: {low: 0.001, high: 0.1, log: true}
"""


def invoke(folder: Path, args: list[str]) -> Result:
    """``tuneforge ARGS`` through the console entry point, in ``folder``, without a subprocess."""
    from tuneforge.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["tuneforge", *args]
    try:
        with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return Result(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def copy_of(seeded: Path) -> Iterator[Path]:
    """A throwaway copy of the seeded folder for one example."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp) / "work"
        shutil.copytree(seeded, folder)
        yield folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``runs/`` (the run folders and the study storages), by content."""
    runs = folder / "runs"
    if not runs.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(runs.rglob("*")) if p.is_file()}  # fmt: skip


def check_careful(done: Result, before: dict, after: dict, names: Iterable[str]) -> None:
    """The fuzzer's properties for one CLI call; ``names`` are what an exit-2 message may name."""
    assert done.code in (0, 2), f"exit {done.code}:\n{done.err[-3000:]}"
    assert "Traceback" not in done.err, done.err[-3000:]
    if done.code != 2:
        return
    errors = [line for line in done.err.splitlines() if line.startswith("error:")]
    if not errors and "Usage:" in done.out + done.err:  # `tuneforge study`: click shows the help
        assert after == before
        return
    assert 1 <= len(errors) <= 2, done.err
    wanted = [n.lower() for n in names if n]  # typer writes RUN_DIR as 'run_dir'
    assert any(name in errors[0].lower() for name in wanted), f"{errors[0]!r} names none of {wanted}"
    assert after == before, "exit 2 changed files under runs/: " + ", ".join(
        sorted(set(after.items()) ^ set(before.items())).__repr__()[:500])


def run_checked(seeded: Path, args: list[str], names: Iterable[str], setup=None) -> Result:
    """Copy the seeded folder, let ``setup(folder)`` write files, run ``args``, check."""
    with copy_of(seeded) as folder:
        if setup is not None:
            setup(folder)
        before = snapshot(folder)
        done = invoke(folder, args)
        check_careful(done, before, snapshot(folder), names)
        return done

